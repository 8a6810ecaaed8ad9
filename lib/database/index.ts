// The metadata database: Postgres in the cluster (MetadataDb) or an external one (ExternalMetadataDb), both
// behind IMetadataDatabase. Imports from storage/ and core/.
export * from './database-connection';
export * from './wait-for-db';
export * from './metadata-database';
export * from './external-metadata-db';
export * from './metadata-db';
