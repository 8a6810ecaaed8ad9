// PgBouncer in front of the metadata database: an IMetadataDatabase the control plane connects to instead of
// the database. Imports from airflow/ (pod parts), database/ and core/.
export * from './pgbouncer';
