// The UI's login: FAB's webserver_config.py for OAuth / OpenID Connect or LDAP, with role mapping. A feature that
// plugs into the control plane (lib/airflow). Imports from airflow/ and core/.
export * from './airflow-auth';
export * from './oauth-provider';
export * from './webserver-config';
