// The UI's login (`auth`, lib/auth/airflow-auth.ts): FAB's webserver_config.py in a ConfigMap, mounted in the UI
// alone, [fab] / [webserver] config_file pointing at it, the secrets from Secrets; and what is refused.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { AirflowChart, AirflowChartProps, AirflowGeneration, AirflowVersion, AuthOptions, OAuthProvider, WEBSERVER_CONFIG_PATH } from '../../lib';
import { validationReport } from '../../validation';
import { AIRFLOW_2_END_OF_LIFE_WARNING, byKind, cfgOf, envOf, errorOf, expectWarns, find, leaves, Manifest, synthesizing } from '../support';
import { python3 } from '../support/python';

const SECRET = { name: 'sso', key: 'client-secret' };
const google = OAuthProvider.google({ clientId: '1234-abc.apps.googleusercontent.com', clientSecret: SECRET });

function synth(props: AirflowChartProps): { chart: AirflowChart; objects: Manifest[] } {
  const chart = new AirflowChart(Testing.app(), 'airflow', props);
  const objects = Testing.synth(chart);
  return { chart, objects };
}
/** The refusal of `auth`, at construction or at synth (docs/validation.md: every problem is reported at synth). */
const authError = (auth: unknown): string => errorOf(() => new AirflowChart(Testing.app(), 'airflow', { auth: auth as AuthOptions }));

/**
 * Runs a rendered webserver_config.py with Python, with `flask_appbuilder.const` stubbed (FAB's constants: 2 =
 * AUTH_LDAP, 4 = AUTH_OAUTH) and `env` set, and returns FAB's settings it defines.
 */
function runWebserverConfig(source: string, env: Record<string, string>): Record<string, unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webserver-config-'));
  try {
    fs.mkdirSync(path.join(dir, 'flask_appbuilder'));
    fs.writeFileSync(path.join(dir, 'flask_appbuilder', '__init__.py'), '');
    fs.writeFileSync(path.join(dir, 'flask_appbuilder', 'const.py'), 'AUTH_DB = 1\nAUTH_LDAP = 2\nAUTH_OAUTH = 4\n');
    fs.writeFileSync(path.join(dir, 'webserver_config.py'), source);
    const out = execFileSync(
      python3(),
      ['-c', 'import json, webserver_config as c; print(json.dumps({k: v for k, v in vars(c).items() if k.isupper()}))'],
      { cwd: dir, env: { PATH: process.env.PATH, PYTHONPATH: dir, PYTHONDONTWRITEBYTECODE: '1', ...env }, encoding: 'utf8', stdio: 'pipe' },
    );
    return JSON.parse(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('auth with OAuth on Airflow 3: the api-server reads webserver_config.py', () => {
  const { chart, objects } = synth({ auth: { oauth: [google] } });
  const auth = chart.features.auth!;
  const api = find(objects, 'Deployment', 'airflow-api-server').spec.template.spec;

  test('[fab] config_file names the mounted file; [core] auth_manager is FAB\'s', () => {
    const cfg = cfgOf(objects);
    expect(cfg.fab.config_file).toBe('/opt/airflow/webserver_config.py');
    expect(WEBSERVER_CONFIG_PATH).toBe('/opt/airflow/webserver_config.py');
    expect(cfg.core.auth_manager).toBe('airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager');
    expect(cfg.webserver).toBeUndefined(); // Airflow 3 has no [webserver] section
  });

  test('the ConfigMap is named after its content and mounted, read-only, in the api-server alone', () => {
    expect(auth.configMap.name).toMatch(/^airflow-api-server-config-[0-9a-f]{8,}$/);
    const cm = find(objects, 'ConfigMap', auth.configMap.name);
    expect(Object.keys(cm.data)).toEqual(['webserver_config.py']);
    expect(api.volumes).toContainEqual({ name: 'webserver-config', configMap: { name: auth.configMap.name } });
    expect(api.containers[0].volumeMounts).toContainEqual({ name: 'webserver-config', mountPath: '/opt/airflow/webserver_config.py', subPath: 'webserver_config.py', readOnly: true });
    for (const d of byKind(objects, 'Deployment').filter((x) => x.metadata.name !== 'airflow-api-server')) {
      expect([d.metadata.name, JSON.stringify(d.spec.template.spec).includes('webserver-config')]).toEqual([d.metadata.name, false]);
    }
    expect(JSON.stringify(chart.airflow.workerPodTemplate)).not.toContain('webserver-config');
    // Another file, another name: the api-server rolls.
    const other = synth({ auth: { oauth: [google], userRegistrationRole: 'Viewer' } }).chart.features.auth!;
    expect(other.configMap.name).not.toBe(auth.configMap.name);
  });

  test('the client secret reaches the api-server from its Secret; no value of it is in the YAML', () => {
    expect(envOf(api.containers[0], 'AIRFLOW_AUTH_GOOGLE_CLIENT_SECRET')).toEqual({ name: 'AIRFLOW_AUTH_GOOGLE_CLIENT_SECRET', valueFrom: { secretKeyRef: SECRET } });
    expect(auth.webserverConfig).toContain('"client_secret": os.environ["AIRFLOW_AUTH_GOOGLE_CLIENT_SECRET"],');
    expect(envOf(find(objects, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0], 'AIRFLOW_AUTH_GOOGLE_CLIENT_SECRET')).toBeUndefined();
  });

  test('the file is FAB\'s OAuth configuration, as Python runs it', () => {
    const settings = runWebserverConfig(auth.webserverConfig, { AIRFLOW_AUTH_GOOGLE_CLIENT_SECRET: 's3cr3t' });
    expect(settings).toEqual({
      WTF_CSRF_ENABLED: true,
      WTF_CSRF_TIME_LIMIT: null,
      AUTH_OAUTH: 4,
      AUTH_TYPE: 4,
      AUTH_USER_REGISTRATION: true,
      AUTH_USER_REGISTRATION_ROLE: 'Public',
      AUTH_ROLES_SYNC_AT_LOGIN: false,
      AUTH_ROLES_MAPPING: {},
      OAUTH_PROVIDERS: [
        {
          name: 'google',
          icon: 'fa-google',
          token_key: 'access_token',
          remote_app: {
            client_id: '1234-abc.apps.googleusercontent.com',
            client_secret: 's3cr3t',
            api_base_url: 'https://www.googleapis.com/oauth2/v2/',
            access_token_url: 'https://accounts.google.com/o/oauth2/token',
            authorize_url: 'https://accounts.google.com/o/oauth2/auth',
            request_token_url: null,
            client_kwargs: { scope: 'email profile' },
          },
        },
      ],
    });
  });

  test('a missing secret stops the api-server at its start (KeyError), never an empty client secret', () => {
    expect(() => runWebserverConfig(auth.webserverConfig, {})).toThrow(/KeyError: 'AIRFLOW_AUTH_GOOGLE_CLIENT_SECRET'/);
  });

  test('the chart passes the validation (the Secret given as existing)', () => {
    expect(validationReport(chart, { existingSecrets: ['sso'] })).toEqual([]);
  });

  test('snapshot of the file (beside the assertions above)', () => {
    expect(auth.webserverConfig).toMatchSnapshot();
  });
});

test('the option naming the file is one Airflow defines, in every release of its generation the library knows', () => {
  for (const v of ['3.0.0', '3.1.0', '3.1.3', '3.2.0']) expect([v, AirflowGeneration.AIRFLOW_3.configKeyAt('fab.config_file', AirflowVersion.of(v)).defined]).toEqual([v, true]);
  expect(AirflowGeneration.AIRFLOW_3.webserverConfigKey).toBe('fab.config_file');
  expect(AirflowGeneration.AIRFLOW_2.configKeyAt('webserver.config_file', AirflowVersion.of('2.7.0')).defined).toBe(true);
  expect(AirflowGeneration.AIRFLOW_2.webserverConfigKey).toBe('webserver.config_file');
});

describe('auth on Airflow 2: the webserver reads [webserver] config_file', () => {
  const { chart, objects } = expectWarns(() => synth({ airflowVersion: '2.11.0', image: 'apache/airflow:2.11.0', auth: { oauth: [google] } }), AIRFLOW_2_END_OF_LIFE_WARNING);
  test('config_file, the mount and the secret on the webserver', () => {
    expect(cfgOf(objects).webserver.config_file).toBe('/opt/airflow/webserver_config.py');
    expect(cfgOf(objects).fab?.config_file).toBeUndefined();
    const web = find(objects, 'Deployment', 'airflow-webserver').spec.template.spec;
    expect(web.volumes).toContainEqual({ name: 'webserver-config', configMap: { name: chart.features.auth!.configMap.name } });
    expect(chart.features.auth!.configMap.name).toMatch(/^airflow-webserver-config-/);
    expect(envOf(web.containers[0], 'AIRFLOW_AUTH_GOOGLE_CLIENT_SECRET').valueFrom.secretKeyRef).toEqual(SECRET);
  });
});

describe('each provider factory gives FAB its provider name and endpoints', () => {
  const secret = (name: string) => ({ name: 'sso', key: name });
  const providers = [
    OAuthProvider.github({ clientId: 'Iv1.abc', clientSecret: secret('github') }),
    OAuthProvider.okta({ clientId: '0oa1', clientSecret: secret('okta'), domain: 'example.okta.com' }),
    OAuthProvider.azureAd({ clientId: '11111111-2222-3333-4444-555555555555', clientSecret: secret('azure'), tenantId: 'contoso.onmicrosoft.com' }),
    OAuthProvider.keycloak({ clientId: 'airflow', clientSecret: secret('keycloak'), url: 'https://sso.example.com/', realm: 'data' }),
    OAuthProvider.generic({ name: 'dex', clientId: 'airflow', clientSecret: secret('dex'), issuerUrl: 'https://dex.example.com/dex', scopes: ['openid', 'email', 'groups'] }),
  ];
  const { chart, objects } = synth({ auth: { oauth: providers, rolesMapping: { admins: ['Admin'], analysts: ['Viewer', 'Analyst'] }, customRoles: ['Analyst'] } });
  const auth = chart.features.auth!;
  const env = Object.fromEntries(['GITHUB', 'OKTA', 'AZURE', 'KEYCLOAK', 'DEX'].map((p) => [`AIRFLOW_AUTH_${p}_CLIENT_SECRET`, `${p.toLowerCase()}-secret`]));
  const settings = runWebserverConfig(auth.webserverConfig, env) as any;
  const byName = Object.fromEntries(settings.OAUTH_PROVIDERS.map((p: any) => [p.name, p]));

  test('names (FAB picks its user-info getter by them) and the login page\'s order', () => {
    expect(auth.providerNames).toEqual(['github', 'okta', 'azure', 'keycloak', 'dex']);
    expect(settings.OAUTH_PROVIDERS.map((p: any) => [p.name, p.icon, p.remote_app.client_secret])).toEqual([
      ['github', 'fa-github', 'github-secret'],
      ['okta', 'fa-circle-o', 'okta-secret'],
      ['azure', 'fa-windows', 'azure-secret'],
      ['keycloak', 'fa-key', 'keycloak-secret'],
      ['dex', 'fa-openid', 'dex-secret'],
    ]);
  });

  test('endpoints', () => {
    expect(byName.github.remote_app).toMatchObject({ api_base_url: 'https://api.github.com/', authorize_url: 'https://github.com/login/oauth/authorize', client_kwargs: { scope: 'read:user' } });
    expect(byName.okta.remote_app).toMatchObject({
      api_base_url: 'https://example.okta.com/oauth2/v1/', // FAB's getter asks "userinfo" under it
      server_metadata_url: 'https://example.okta.com/.well-known/openid-configuration',
      client_kwargs: { scope: 'openid email profile groups' },
    });
    expect(byName.azure.remote_app).toMatchObject({
      access_token_url: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
      authorize_url: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize',
      client_kwargs: { scope: 'openid email profile' }, // FAB decodes the id token
    });
    expect(byName.keycloak.remote_app).toMatchObject({
      api_base_url: 'https://sso.example.com/realms/data/protocol/', // FAB's getter asks "openid-connect/userinfo" under it
      access_token_url: 'https://sso.example.com/realms/data/protocol/openid-connect/token',
      authorize_url: 'https://sso.example.com/realms/data/protocol/openid-connect/auth',
      server_metadata_url: 'https://sso.example.com/realms/data/.well-known/openid-configuration',
    });
    expect(byName.dex.remote_app).toEqual({
      client_id: 'airflow',
      client_secret: 'dex-secret',
      api_base_url: 'https://dex.example.com/dex/',
      server_metadata_url: 'https://dex.example.com/dex/.well-known/openid-configuration',
      client_kwargs: { scope: 'openid email groups' },
    });
  });

  test('role mapping, with the sync at login on by default when there is a mapping', () => {
    expect(settings.AUTH_ROLES_MAPPING).toEqual({ admins: ['Admin'], analysts: ['Viewer', 'Analyst'] });
    expect(settings.AUTH_ROLES_SYNC_AT_LOGIN).toBe(true);
  });

  test('every secret from a Secret, one variable per provider', () => {
    const api = find(objects, 'Deployment', 'airflow-api-server').spec.template.spec.containers[0];
    for (const p of ['github', 'okta', 'azure', 'keycloak', 'dex']) {
      expect(envOf(api, `AIRFLOW_AUTH_${p.toUpperCase()}_CLIENT_SECRET`).valueFrom.secretKeyRef).toEqual(secret(p));
    }
    // Nothing in the YAML looks like a secret value.
    for (const [where, v] of leaves(objects)) if (typeof v === 'string') expect([where, /(github|okta|azure|keycloak|dex)-secret/.test(v)]).toEqual([where, false]);
  });
});

describe('auth with LDAP', () => {
  const ldap = {
    uri: 'ldaps://ldap.example.com:636',
    searchBase: 'ou=people,dc=example,dc=com',
    uidField: 'sAMAccountName',
    bindUser: 'cn=airflow,ou=services,dc=example,dc=com',
    bindPassword: { name: 'ldap', key: 'bind-password' },
  };
  const { chart, objects } = synth({ auth: { ldap, rolesMapping: { 'cn=airflow-admins,ou=groups,dc=example,dc=com': ['Admin'] } } });
  const auth = chart.features.auth!;

  test('FAB\'s AUTH_LDAP settings, the bind password from its Secret', () => {
    const settings = runWebserverConfig(auth.webserverConfig, { AIRFLOW_AUTH_LDAP_BIND_PASSWORD: 'pw' });
    expect(settings).toMatchObject({
      AUTH_TYPE: 2,
      AUTH_LDAP_SERVER: 'ldaps://ldap.example.com:636',
      AUTH_LDAP_USE_TLS: false,
      AUTH_LDAP_ALLOW_SELF_SIGNED: false,
      AUTH_LDAP_SEARCH: 'ou=people,dc=example,dc=com',
      AUTH_LDAP_UID_FIELD: 'sAMAccountName',
      AUTH_LDAP_GROUP_FIELD: 'memberOf',
      AUTH_LDAP_BIND_USER: 'cn=airflow,ou=services,dc=example,dc=com',
      AUTH_LDAP_BIND_PASSWORD: 'pw',
      AUTH_ROLES_MAPPING: { 'cn=airflow-admins,ou=groups,dc=example,dc=com': ['Admin'] },
      AUTH_ROLES_SYNC_AT_LOGIN: true,
    });
    expect(settings.OAUTH_PROVIDERS).toBeUndefined();
    const api = find(objects, 'Deployment', 'airflow-api-server').spec.template.spec.containers[0];
    expect(envOf(api, 'AIRFLOW_AUTH_LDAP_BIND_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'ldap', key: 'bind-password' });
  });

  test('StartTLS on ldap://', () => {
    const settings = runWebserverConfig(synth({ auth: { ldap: { uri: 'ldap://ldap.example.com', startTls: true } } }).chart.features.auth!.webserverConfig, {});
    expect(settings).toMatchObject({ AUTH_LDAP_SERVER: 'ldap://ldap.example.com', AUTH_LDAP_USE_TLS: true });
    expect(settings.AUTH_LDAP_SEARCH).toBeUndefined();
  });
});

describe('refused', () => {
  const base = { clientId: 'airflow', clientSecret: SECRET };
  test.each<[string, unknown, string]>([
    ['neither oauth nor ldap', {}, 'AirflowAuth at "airflow/airflow/auth": property "auth" received {}; allowed: oauth providers ([OAuthProvider.google({ ... })]) or ldap ({ uri, ... }): FAB logs users in one way.'],
    ['both', { oauth: [google], ldap: { uri: 'ldaps://ldap.example.com' } }, 'property "ldap" received "ldaps://ldap.example.com"; allowed: unset with oauth: FAB has one AUTH_TYPE, so the UI logs in with OAuth or with LDAP, not both.'],
    ['no provider', { oauth: [] }, 'property "oauth" received []; allowed: a non-empty list of providers'],
    ['a provider not from a factory', { oauth: [{ name: 'google', clientId: 'x' }] }, 'property "oauth[0]" received {"name":"google","clientId":"x"}; allowed: OAuthProvider.google({ ... }), .github, .okta, .azureAd, .keycloak or .generic({ name, issuerUrl, ... }).'],
    ['no client secret', { oauth: [OAuthProvider.google({ clientId: 'airflow' } as any)] }, 'property "oauth[0].clientSecret" received undefined; allowed: a reference to the Secret key holding the client secret: { name: "my-secret", key: "client-secret" }.'],
    ['a client secret as a value', { oauth: [OAuthProvider.google({ clientId: 'airflow', clientSecret: 'GOCSPX-abc' } as any)] }, 'property "oauth[0].clientSecret" received "GOCSPX-abc"; allowed: a reference to a Secret key: { name: "my-secret", key: "my-key" }.'],
    ['no client id', { oauth: [OAuthProvider.github({ clientSecret: SECRET } as any)] }, 'property "oauth[0].clientId" received undefined; allowed: the OAuth client id the provider gave'],
    ['an unknown provider field', { oauth: [OAuthProvider.okta({ ...base, domain: 'example.okta.com', tenant: 'x' } as any)] }, 'property "oauth[0].tenant" received "(value not shown: an unknown prop may hold a secret)"; allowed: a prop of OktaOAuthOptions (clientId, clientSecret, domain, scopes).'],
    ['an issuer over http', { oauth: [OAuthProvider.generic({ ...base, name: 'dex', issuerUrl: 'http://dex.example.com' })] }, 'property "oauth[0].issuerUrl" received "http://dex.example.com"; allowed: an https:// URL such as "https://login.example.com" (no user, query or fragment): over http:// the authorization codes and tokens cross the network in clear. Use "https://dex.example.com".'],
    ['a generic provider named like FAB\'s', { oauth: [OAuthProvider.generic({ ...base, name: 'okta', issuerUrl: 'https://sso.example.com' })] }, 'property "oauth[0].name" received "okta"; allowed: a name FAB has no user-info getter of its own for'],
    ['two providers of one name', { oauth: [google, google] }, 'property "oauth[1].name" received "google"; allowed: a name not used by another entry of "oauth".'],
    ['an Okta domain with a scheme', { oauth: [OAuthProvider.okta({ ...base, domain: 'https://example.okta.com' })] }, 'property "oauth[0].domain" received "https://example.okta.com"; allowed: the Okta org\'s host name'],
    ['Keycloak with /auth', { oauth: [OAuthProvider.keycloak({ ...base, url: 'https://sso.example.com/auth', realm: 'data' })] }, 'property "oauth[0].url" received "https://sso.example.com/auth"; allowed: the URL of Keycloak 17 or newer'],
    ['LDAP without a server URI', { ldap: { searchBase: 'dc=example,dc=com' } }, 'property "ldap.uri" received undefined; allowed: an LDAP server URI: ldaps://host[:port], or ldap://host[:port] with startTls: true.'],
    ['LDAP in clear', { ldap: { uri: 'ldap://ldap.example.com' } }, 'property "ldap.uri" received "ldap://ldap.example.com"; allowed: ldaps://, or ldap:// with startTls: true: every login sends the user\'s password to the server, in clear over plain ldap://. Use "ldaps://ldap.example.com" or set startTls: true.'],
    ['a bind user without its password', { ldap: { uri: 'ldaps://ldap.example.com', searchBase: 'dc=example,dc=com', bindUser: 'cn=airflow' } }, 'property "ldap.bindPassword" received undefined; allowed: a reference to the Secret key holding bindUser\'s password: { name, key }.'],
    ['a role FAB does not know', { oauth: [OAuthProvider.okta({ ...base, domain: 'example.okta.com' })], rolesMapping: { admins: ['Administrator'] } }, 'property "rolesMapping["admins"][0]" received "Administrator"; allowed: a role FAB knows: "Admin", "Op", "User", "Viewer", "Public". Declare a role created in the UI in customRoles.'],
    ['a registration role FAB does not know', { oauth: [google], userRegistrationRole: 'Analyst' }, 'property "userRegistrationRole" received "Analyst"; allowed: a role FAB knows'],
    ['a mapping Google and GitHub never apply', { oauth: [google], rolesMapping: { admins: ['Admin'] } }, 'property "rolesMapping" received {"admins":["Admin"]}; allowed: unset with only Google and GitHub: FAB reads no groups from them (no role keys), so the mapping would never apply.'],
    ['a mapping LDAP never applies (no search)', { ldap: { uri: 'ldaps://ldap.example.com' }, rolesMapping: { admins: ['Admin'] } }, 'allowed: unset without ldap.searchBase: FAB reads the groups from the user entry its search finds'],
    ['the sync at login without a mapping', { oauth: [google], rolesSyncAtLogin: true }, 'property "rolesSyncAtLogin" received true; allowed: false or unset without rolesMapping'],
    ['a custom role named like FAB\'s', { oauth: [google], customRoles: ['Admin'] }, 'property "customRoles[0]" received "Admin"; allowed: a role other than FAB\'s own'],
  ])('%s', (_name, auth, message) => {
    expect(authError(auth)).toContain(message);
  });

  test('an unknown auth option on the chart is reported as the chart\'s', () => {
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { auth: { oauth: [google], roleMapping: {} } } as any))).toThrow(/^AirflowChart at "airflow": property "auth\.roleMapping" received \{\}; allowed: a prop of AuthOptions/);
  });

  test('SimpleAuthManager on Airflow 3: the auth manager is the library\'s to set', () => {
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { config: { core: { auth_manager: 'airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager' } } }))).toThrow(
      'AirflowConfiguration at "airflow/airflow/configuration": property "config.core.auth_manager" received "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"; allowed: an option the library does not set itself; it sets core.auth_manager = airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager.',
    );
  });

  test('[fab] config_file in config, with auth: the feature sets it', () => {
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { auth: { oauth: [google] }, config: { fab: { config_file: '/tmp/mine.py' } } }))).toThrow(/property "config\.fab\.config_file".*auth/);
  });
});

describe('with networkPolicies, the UI may reach the identity provider (and only the UI)', () => {
  const policy = (props: AirflowChartProps) => synth({ networkPolicies: true, ...props }).objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'airflow-identity-provider');

  test('OAuth: 443 (and a port an https URL names), to any address unless identityProviderCidrs says', () => {
    const keycloak = OAuthProvider.keycloak({ clientId: 'airflow', clientSecret: SECRET, url: 'https://sso.example.com:8443', realm: 'data' });
    const p = policy({ auth: { oauth: [google, keycloak] }, networkPolicyOptions: { identityProviderCidrs: ['192.0.2.0/24'] } })!;
    expect(p.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'airflow' }, matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['api-server'] }] },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24' } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 8443 }] }],
    });
  });

  test('LDAP: the server\'s port (636 for ldaps://, 389 for ldap://, or the URI\'s)', () => {
    expect(policy({ auth: { ldap: { uri: 'ldaps://ldap.example.com' } } })!.spec.egress).toEqual([{ ports: [{ protocol: 'TCP', port: 636 }] }]);
    expect(policy({ auth: { ldap: { uri: 'ldap://ldap.example.com', startTls: true } } })!.spec.egress[0].ports).toEqual([{ protocol: 'TCP', port: 389 }]);
    expect(policy({ auth: { ldap: { uri: 'ldaps://ldap.example.com:3269' } } })!.spec.egress[0].ports).toEqual([{ protocol: 'TCP', port: 3269 }]);
  });

  test('without auth there is no such policy, and identityProviderCidrs is refused', () => {
    expect(policy({})).toBeUndefined();
    expect(() => synth({ networkPolicies: true, networkPolicyOptions: { identityProviderCidrs: ['192.0.2.0/24'] } })).toThrow(
      'AirflowNetworkPolicies at "airflow/network-policies": property "identityProviderCidrs" received ["192.0.2.0/24"]; allowed: unset without auth: nothing would use the rule. Turn auth on, or leave identityProviderCidrs out.',
    );
  });
});
