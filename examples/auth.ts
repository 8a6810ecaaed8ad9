import { App } from 'cdk8s';
import { AirflowChart, OAuthProvider } from '../lib';

// Log in with Keycloak (OpenID Connect). The client secret stays in the Secret "keycloak-airflow", which you
// create; members of the Keycloak group "airflow-admins" are Admins, of "data-team" Users, anyone else who logs
// in gets an account with no permission (Public) until an admin gives it a role.
export const app = new App();
new AirflowChart(app, 'airflow', {
  auth: {
    oauth: [
      OAuthProvider.keycloak({
        url: 'https://sso.example.com',
        realm: 'data',
        clientId: 'airflow',
        clientSecret: { name: 'keycloak-airflow', key: 'client-secret' },
      }),
    ],
    rolesMapping: { 'airflow-admins': ['Admin'], 'data-team': ['User'] },
  },
  createAdminUser: false, // the first Admin logs in through Keycloak
});
