import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_HOME,
  SecretKeyRef,
  airflowLabels,
  invalid,
  refuseUnknownProps,
  secretEnv,
  shortHash,
  validateSecretKeyRef,
  validateUnique,
} from '../core';
import { AirflowContribution, IAirflowFeature } from '../airflow/airflow-feature';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import { OAuthProvider } from './oauth-provider';
import { FAB_BUILTIN_ROLES } from '../airflow/admin-user';
import { RenderedLdap, RenderedProvider, renderWebserverConfig } from './webserver-config';

/** Where the UI's container finds `webserver_config.py` (`[fab] config_file` / `[webserver] config_file`). */
export const WEBSERVER_CONFIG_PATH = `${AIRFLOW_HOME}/webserver_config.py`;

/** The variable the UI reads the LDAP bind password from (from its Secret). */
export const LDAP_BIND_PASSWORD_ENV = 'AIRFLOW_AUTH_LDAP_BIND_PASSWORD';

/** The login against an LDAP directory (FAB's `AUTH_LDAP`). */
export interface LdapOptions {
  /**
   * The server: `ldaps://host[:port]`, or `ldap://host[:port]` with `startTls: true` (FAB's `AUTH_LDAP_SERVER`).
   * Every login sends the user's password to it, so a plain `ldap://` without StartTLS is refused.
   */
  readonly uri: string;

  /**
   * Whether to upgrade an `ldap://` connection with StartTLS (`AUTH_LDAP_USE_TLS`).
   * @default false
   */
  readonly startTls?: boolean;

  /**
   * Whether to accept a server certificate no CA of the image signed (`AUTH_LDAP_ALLOW_SELF_SIGNED`).
   * @default false
   */
  readonly allowSelfSigned?: boolean;

  /**
   * The base DN users are searched under (`AUTH_LDAP_SEARCH`); needed for `bindUser` and for `rolesMapping`
   * (the groups are read from the user's entry found there).
   * @default - none: FAB binds as the user directly, without a search
   */
  readonly searchBase?: string;

  /**
   * An LDAP filter the user's entry must also match, such as "(memberOf=cn=airflow,ou=groups,dc=example,dc=com)"
   * (`AUTH_LDAP_SEARCH_FILTER`).
   * @default - none
   */
  readonly searchFilter?: string;

  /**
   * The attribute holding the user name (`AUTH_LDAP_UID_FIELD`): "uid", or "sAMAccountName" on Active Directory.
   * @default "uid"
   */
  readonly uidField?: string;

  /**
   * The attribute listing the user's groups, the keys of `rolesMapping` (`AUTH_LDAP_GROUP_FIELD`).
   * @default "memberOf"
   */
  readonly groupField?: string;

  /**
   * The DN FAB binds as to search for users (`AUTH_LDAP_BIND_USER`), with `bindPassword`.
   * @default - none: an anonymous search
   */
  readonly bindUser?: string;

  /**
   * The Secret key holding `bindUser`'s password, read into the UI's environment ({@link LDAP_BIND_PASSWORD_ENV}).
   * @default - none: with no bindUser
   */
  readonly bindPassword?: SecretKeyRef;
}

/**
 * The UI's login through Airflow's FAB auth manager (apache-airflow-providers-fab): OAuth / OpenID Connect or
 * LDAP, with role mapping. Rendered into a `webserver_config.py` that the UI reads.
 */
export interface AuthOptions {
  /**
   * Log in with these OAuth / OpenID Connect providers (`OAuthProvider.google(...)`, `.github`, `.okta`,
   * `.azureAd`, `.keycloak`, `.generic`); FAB's `AUTH_TYPE = AUTH_OAUTH`, one button per provider.
   * @default - none: give oauth or ldap
   */
  readonly oauth?: OAuthProvider[];

  /**
   * Log in against an LDAP directory (FAB's `AUTH_TYPE = AUTH_LDAP`).
   * @default - none: give oauth or ldap
   */
  readonly ldap?: LdapOptions;

  /**
   * The provider's groups (OAuth role keys, LDAP group DNs) -> the FAB roles they give (`AUTH_ROLES_MAPPING`),
   * such as `{ 'airflow-admins': ['Admin'], 'data-team': ['User'] }`. Roles: Admin, Op, User, Viewer, Public, or
   * one of `customRoles`.
   * @default - none
   */
  readonly rolesMapping?: Record<string, string[]>;

  /**
   * Whether a user who logs in for the first time gets an account (`AUTH_USER_REGISTRATION`); without it only
   * users an admin created can log in.
   * @default true
   */
  readonly userRegistration?: boolean;

  /**
   * The role of a new account (`AUTH_USER_REGISTRATION_ROLE`), beside the roles of `rolesMapping`.
   * @default "Public" - no permission at all: access comes from rolesMapping or an admin
   */
  readonly userRegistrationRole?: string;

  /**
   * Whether the roles are set again from `rolesMapping` at every login (`AUTH_ROLES_SYNC_AT_LOGIN`), so that
   * leaving a group takes the role away; roles given by hand in the UI are then replaced.
   * @default - true with rolesMapping, false without
   */
  readonly rolesSyncAtLogin?: boolean;

  /**
   * Roles created in the UI (or by `airflow roles create`) that `rolesMapping` and `userRegistrationRole` may
   * name besides FAB's own (Admin, Op, User, Viewer, Public).
   * @default - none
   */
  readonly customRoles?: string[];
}

/** Props for {@link AirflowAuth}. */
export interface AirflowAuthProps extends AuthOptions {
  /** The control plane whose UI logs in this way. */
  readonly airflow: KubernetesExecutorAirflow;
}

/** FAB's own provider names (providers/fab/.../security_manager/override.py get_oauth_user_info). */
const FAB_PROVIDER_NAMES = ['github', 'githublocal', 'twitter', 'linkedin', 'google', 'azure', 'openshift', 'okta', 'auth0', 'keycloak', 'keycloak_before_17', 'authentik'];
const PROVIDER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const CLIENT_ID = /^[A-Za-z0-9._~:/@+=-]{1,256}$/;
// RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), without quotes and backslashes
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const HOST = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+(:[0-9]{1,5})?$/;
const TENANT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+)$/;
const REALM = /^[A-Za-z0-9._-]{1,64}$/;
const ROLE = /^[A-Za-z][A-Za-z0-9 _-]{0,63}$/;
const LDAP_URI = /^(ldaps?):\/\/([A-Za-z0-9.-]+)(:[0-9]{1,5})?\/?$/;
const ONE_LINE = /^[^\r\n\0]{1,1024}$/;
const ICON = /^fa-[a-z0-9-]{1,40}$/;

/** The https URL of an identity provider, without a trailing "/" (no credentials, no query). */
function httpsUrl(scope: Construct, property: string, value: unknown): string {
  const allowed = 'an https:// URL such as "https://login.example.com" (no user, query or fragment)';
  if (typeof value !== 'string') invalid(scope, property, value, allowed);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid(scope, property, value, allowed);
  }
  if (url.protocol === 'http:') {
    invalid(scope, property, value, `${allowed}: over http:// the authorization codes and tokens cross the network in clear`, `Use "${value.replace(/^http:/, 'https:')}".`);
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || /["'\\\s]/.test(value)) invalid(scope, property, value, allowed);
  return value.replace(/\/+$/, '');
}

/**
 * The UI's login (`auth`): renders FAB's `webserver_config.py` into ConfigMap `airflow-<ui>-config-<hash>`
 * (named after its content, so that a change rolls the UI), mounts it at {@link WEBSERVER_CONFIG_PATH} in the
 * UI's container only and points `[fab] config_file` (Airflow 3) / `[webserver] config_file` (Airflow 2) at it.
 * Client secrets and the LDAP bind password reach the UI's environment from their Secrets and the file reads
 * them with `os.environ`: no secret is in the YAML. On Airflow 3 `[core] auth_manager` is FAB's
 * (`FabAuthManager`), which the control plane sets and refuses to change.
 */
export class AirflowAuth extends Construct implements IAirflowFeature {
  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'auth';
  /** FAB's `AUTH_TYPE`: "AUTH_OAUTH" or "AUTH_LDAP". */
  public readonly authType: 'AUTH_OAUTH' | 'AUTH_LDAP';
  /** The providers' names on the login page (OAuth). */
  public readonly providerNames: string[];
  /** `webserver_config.py` as rendered. */
  public readonly webserverConfig: string;
  /** The ConfigMap holding it. */
  public readonly configMap: k8s.KubeConfigMap;
  /** The roles `rolesMapping` and `userRegistrationRole` may name. */
  public readonly knownRoles: readonly string[];
  /** Whether new users get an account. */
  public readonly userRegistration: boolean;
  /** The role of a new account. */
  public readonly userRegistrationRole: string;
  /** Whether roles are synced at every login. */
  public readonly rolesSyncAtLogin: boolean;
  /**
   * The TCP ports the UI reaches the identity provider on: the ports of the OAuth endpoints (443 unless a URL
   * says otherwise), or the LDAP server's (636 for ldaps://, 389 for ldap:// unless the URI says otherwise).
   */
  public readonly identityProviderPorts: number[];

  private readonly env: k8s.EnvVar[] = [];

  constructor(scope: Construct, id: string, props: AirflowAuthProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowAuthProps');
    const { airflow, oauth, ldap } = props;
    if (oauth === undefined && ldap === undefined) {
      invalid(this, 'auth', {}, 'oauth providers ([OAuthProvider.google({ ... })]) or ldap ({ uri, ... }): FAB logs users in one way');
    }
    if (oauth !== undefined && ldap !== undefined) {
      invalid(this, 'ldap', ldap.uri, 'unset with oauth: FAB has one AUTH_TYPE, so the UI logs in with OAuth or with LDAP, not both');
    }
    const customRoles = props.customRoles ?? [];
    if (!Array.isArray(customRoles)) invalid(this, 'customRoles', customRoles, 'a list of role names');
    customRoles.forEach((r, i) => {
      if (typeof r !== 'string' || !ROLE.test(r)) invalid(this, `customRoles[${i}]`, r, "a role name: a letter, then up to 63 letters, digits, ' ', '_' and '-'");
      if (FAB_BUILTIN_ROLES.includes(r)) invalid(this, `customRoles[${i}]`, r, `a role other than FAB's own (${FAB_BUILTIN_ROLES.join(', ')}), which exist already`);
    });
    customRoles.forEach((r, i) => {
      if (customRoles.indexOf(r) !== i) invalid(this, `customRoles[${i}]`, r, 'a role not listed before');
    });
    this.knownRoles = [...FAB_BUILTIN_ROLES, ...customRoles];
    const role = (property: string, value: unknown): string => {
      if (typeof value !== 'string' || !this.knownRoles.includes(value)) {
        invalid(this, property, value, `a role FAB knows: ${this.knownRoles.map((r) => `"${r}"`).join(', ')}`, 'Declare a role created in the UI in customRoles.');
      }
      return value;
    };

    let providers: RenderedProvider[] = [];
    let groupsKnown: boolean;
    if (oauth !== undefined) {
      this.authType = 'AUTH_OAUTH';
      if (!Array.isArray(oauth) || oauth.length === 0) invalid(this, 'oauth', oauth, 'a non-empty list of providers, such as [OAuthProvider.google({ clientId, clientSecret: { name, key } })]');
      providers = oauth.map((p, i) => this.provider(`oauth[${i}]`, p));
      validateUnique(this, 'oauth', providers.map((p) => p.name));
      groupsKnown = providers.some((p) => p.reportsGroups);
    } else {
      this.authType = 'AUTH_LDAP';
      groupsKnown = ldap!.searchBase !== undefined;
    }
    const ldapSettings = ldap !== undefined ? this.ldap(ldap) : undefined;

    const mapping = props.rolesMapping;
    if (mapping !== undefined) {
      if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping) || Object.keys(mapping).length === 0) {
        invalid(this, 'rolesMapping', mapping, "a map of group -> FAB roles, such as { 'airflow-admins': ['Admin'] }");
      }
      for (const [group, roles] of Object.entries(mapping)) {
        if (!ONE_LINE.test(group)) invalid(this, 'rolesMapping', group, 'group names of one line');
        if (!Array.isArray(roles) || roles.length === 0) invalid(this, `rolesMapping["${group}"]`, roles, 'a non-empty list of FAB roles, such as ["Admin"]');
        roles.forEach((r, i) => role(`rolesMapping["${group}"][${i}]`, r));
      }
      if (!groupsKnown) {
        invalid(
          this,
          'rolesMapping',
          mapping,
          oauth !== undefined
            ? 'unset with only Google and GitHub: FAB reads no groups from them (no role keys), so the mapping would never apply. Use a provider that reports groups (okta, azureAd, keycloak, generic OpenID Connect), or give roles in the UI'
            : 'unset without ldap.searchBase: FAB reads the groups from the user entry its search finds, so the mapping would never apply. Give ldap.searchBase',
        );
      }
    }
    this.userRegistration = props.userRegistration ?? true;
    if (typeof this.userRegistration !== 'boolean') invalid(this, 'userRegistration', this.userRegistration, 'true or false');
    if (!this.userRegistration && props.userRegistrationRole !== undefined) {
      invalid(this, 'userRegistrationRole', props.userRegistrationRole, 'unset with userRegistration: false: no account is created at login');
    }
    this.userRegistrationRole = role('userRegistrationRole', props.userRegistrationRole ?? 'Public');
    this.rolesSyncAtLogin = props.rolesSyncAtLogin ?? mapping !== undefined;
    if (typeof this.rolesSyncAtLogin !== 'boolean') invalid(this, 'rolesSyncAtLogin', this.rolesSyncAtLogin, 'true or false');
    if (this.rolesSyncAtLogin && mapping === undefined) {
      invalid(this, 'rolesSyncAtLogin', true, 'false or unset without rolesMapping: the sync would set every user back to the registration role at each login, dropping the roles an admin gave');
    }
    this.providerNames = providers.map((p) => p.name);
    const urlPorts = providers.flatMap((p) => Object.values(p.remote).filter((v): v is string => typeof v === 'string' && v.startsWith('https://')).map((u) => Number(new URL(u).port || 443)));
    const ldapPort = ldapSettings ? [Number(LDAP_URI.exec(ldapSettings.server)![3]?.slice(1) ?? (ldapSettings.server.startsWith('ldaps') ? 636 : 389))] : [];
    this.identityProviderPorts = [...new Set([...urlPorts, ...ldapPort])].sort((a, b) => a - b);
    this.webserverConfig = renderWebserverConfig({
      authType: this.authType,
      providers,
      ldap: ldapSettings,
      rolesMapping: mapping,
      userRegistration: this.userRegistration,
      userRegistrationRole: this.userRegistrationRole,
      rolesSyncAtLogin: this.rolesSyncAtLogin,
    });
    const ui = airflow.generation.uiComponent;
    this.configMap = new k8s.KubeConfigMap(this, 'config', {
      metadata: { name: `airflow-${ui}-config-${shortHash(this.webserverConfig)}`, labels: airflowLabels(ui) },
      data: { 'webserver_config.py': this.webserverConfig },
    });
    airflow.addFeature(this);
  }

  /** What the feature adds to the control plane (called once, by `addFeature`). */
  public contribute(airflow: KubernetesExecutorAirflow): AirflowContribution {
    const ui = airflow.generation.uiComponent;
    const [section, key] = airflow.generation.webserverConfigKey.split('.');
    return {
      config: { [section]: { [key]: WEBSERVER_CONFIG_PATH } },
      env: { [ui]: this.env },
      volumes: { [ui]: [{ name: 'webserver-config', configMap: { name: this.configMap.name } }] },
      volumeMounts: { [ui]: [{ name: 'webserver-config', mountPath: WEBSERVER_CONFIG_PATH, subPath: 'webserver_config.py', readOnly: true }] },
    };
  }

  /** One OAuth provider, checked, with its client secret's variable added to the UI's environment. */
  private provider(property: string, provider: OAuthProvider): RenderedProvider {
    if (!(provider instanceof OAuthProvider)) {
      invalid(this, property, provider, 'OAuthProvider.google({ ... }), .github, .okta, .azureAd, .keycloak or .generic({ name, issuerUrl, ... })');
    }
    const o = provider.options as unknown as Record<string, unknown>;
    refuseUnknownProps(this, property, o, provider.optionsInterface);
    if (typeof o.clientId !== 'string' || !CLIENT_ID.test(o.clientId)) {
      invalid(this, `${property}.clientId`, o.clientId, "the OAuth client id the provider gave: 1 to 256 letters, digits and . _ ~ : / @ + = -");
    }
    if (o.clientSecret === undefined) {
      invalid(this, `${property}.clientSecret`, undefined, 'a reference to the Secret key holding the client secret: { name: "my-secret", key: "client-secret" }');
    }
    const secret = validateSecretKeyRef(this, `${property}.clientSecret`, o.clientSecret);
    const scopes = o.scopes;
    if (scopes !== undefined) {
      if (!Array.isArray(scopes) || scopes.length === 0) invalid(this, `${property}.scopes`, scopes, 'a non-empty list of scopes, such as ["openid", "email", "profile"]');
      scopes.forEach((s, i) => {
        if (typeof s !== 'string' || !SCOPE.test(s)) invalid(this, `${property}.scopes[${i}]`, s, 'a scope: printable characters without spaces, quotes or backslashes');
      });
    }
    const scope = (fallback: string): string => (scopes as string[] | undefined)?.join(' ') ?? fallback;
    let name: string = provider.kind;
    let icon: string;
    let reportsGroups = true;
    let remote: Record<string, string | null>;
    switch (provider.kind) {
      case 'google':
        // FAB's documented Google provider (flask_appbuilder docs, "Authentication Methods", OAuth).
        icon = 'fa-google';
        reportsGroups = false;
        remote = {
          api_base_url: 'https://www.googleapis.com/oauth2/v2/',
          access_token_url: 'https://accounts.google.com/o/oauth2/token',
          authorize_url: 'https://accounts.google.com/o/oauth2/auth',
          request_token_url: null,
          scope: scope('email profile'),
        };
        break;
      case 'github':
        icon = 'fa-github';
        reportsGroups = false;
        remote = {
          api_base_url: 'https://api.github.com/',
          access_token_url: 'https://github.com/login/oauth/access_token',
          authorize_url: 'https://github.com/login/oauth/authorize',
          request_token_url: null,
          scope: scope('read:user'),
        };
        break;
      case 'okta': {
        const domain = o.domain;
        if (typeof domain !== 'string' || !HOST.test(domain)) invalid(this, `${property}.domain`, domain, 'the Okta org\'s host name, such as "example.okta.com" (no scheme, no path)');
        icon = 'fa-circle-o';
        remote = {
          api_base_url: `https://${domain}/oauth2/v1/`,
          access_token_url: `https://${domain}/oauth2/v1/token`,
          authorize_url: `https://${domain}/oauth2/v1/authorize`,
          server_metadata_url: `https://${domain}/.well-known/openid-configuration`,
          scope: scope('openid email profile groups'),
        };
        break;
      }
      case 'azure': {
        const tenant = o.tenantId;
        if (typeof tenant !== 'string' || !TENANT.test(tenant)) {
          invalid(this, `${property}.tenantId`, tenant, 'the directory (tenant) id, a GUID such as "0b1c...-...", or its domain such as "contoso.onmicrosoft.com"');
        }
        icon = 'fa-windows';
        const base = `https://login.microsoftonline.com/${tenant}`;
        remote = {
          api_base_url: `${base}/oauth2`,
          access_token_url: `${base}/oauth2/v2.0/token`,
          authorize_url: `${base}/oauth2/v2.0/authorize`,
          request_token_url: null,
          server_metadata_url: `${base}/v2.0/.well-known/openid-configuration`,
          scope: scope('openid email profile'),
        };
        break;
      }
      case 'keycloak': {
        const url = httpsUrl(this, `${property}.url`, o.url);
        if (/\/auth$/.test(url)) invalid(this, `${property}.url`, o.url, 'the URL of Keycloak 17 or newer, without the /auth path of older releases');
        if (typeof o.realm !== 'string' || !REALM.test(o.realm)) invalid(this, `${property}.realm`, o.realm, "a realm name: 1 to 64 letters, digits, '.', '_' and '-'");
        icon = 'fa-key';
        const realm = `${url}/realms/${o.realm}`;
        remote = {
          api_base_url: `${realm}/protocol/`,
          access_token_url: `${realm}/protocol/openid-connect/token`,
          authorize_url: `${realm}/protocol/openid-connect/auth`,
          request_token_url: null,
          server_metadata_url: `${realm}/.well-known/openid-configuration`,
          scope: scope('openid email profile'),
        };
        break;
      }
      case 'generic': {
        if (typeof o.name !== 'string' || !PROVIDER_NAME.test(o.name)) {
          invalid(this, `${property}.name`, o.name, "a provider name: a lowercase letter, then up to 31 lowercase letters, digits, '_' and '-'");
        }
        if (FAB_PROVIDER_NAMES.includes(o.name)) {
          invalid(this, `${property}.name`, o.name, `a name FAB has no user-info getter of its own for (not ${FAB_PROVIDER_NAMES.join(', ')})`, 'Use its factory (OAuthProvider.google, .github, .okta, .azureAd, .keycloak), or another name.');
        }
        name = o.name;
        const issuer = httpsUrl(this, `${property}.issuerUrl`, o.issuerUrl);
        if (o.icon !== undefined && (typeof o.icon !== 'string' || !ICON.test(o.icon))) invalid(this, `${property}.icon`, o.icon, 'a Font Awesome icon name such as "fa-openid"');
        icon = (o.icon as string | undefined) ?? 'fa-openid';
        remote = {
          api_base_url: `${issuer}/`,
          server_metadata_url: `${issuer}/.well-known/openid-configuration`,
          scope: scope('openid email profile'),
        };
        break;
      }
    }
    const secretEnvName = `AIRFLOW_AUTH_${name.toUpperCase().replace(/-/g, '_')}_CLIENT_SECRET`;
    this.env.push(secretEnv(secretEnvName, secret));
    return { name, icon, clientId: o.clientId, secretEnv: secretEnvName, remote, reportsGroups };
  }

  /** The LDAP settings, checked, with the bind password's variable added to the UI's environment. */
  private ldap(ldap: LdapOptions): RenderedLdap {
    refuseUnknownProps(this, 'ldap', ldap, 'LdapOptions');
    const m = typeof ldap.uri === 'string' ? LDAP_URI.exec(ldap.uri) : null;
    if (!m) invalid(this, 'ldap.uri', ldap.uri, 'an LDAP server URI: ldaps://host[:port], or ldap://host[:port] with startTls: true');
    const startTls = ldap.startTls ?? false;
    const allowSelfSigned = ldap.allowSelfSigned ?? false;
    for (const [p, v] of [['startTls', startTls], ['allowSelfSigned', allowSelfSigned]] as const) {
      if (typeof v !== 'boolean') invalid(this, `ldap.${p}`, v, 'true or false');
    }
    if (m[1] === 'ldap' && !startTls) {
      invalid(this, 'ldap.uri', ldap.uri, 'ldaps://, or ldap:// with startTls: true: every login sends the user\'s password to the server, in clear over plain ldap://', `Use "ldaps://${m[2]}${m[3] ?? ''}" or set startTls: true.`);
    }
    if (m[1] === 'ldaps' && startTls) invalid(this, 'ldap.startTls', true, 'false or unset with ldaps://: the connection is TLS already');
    const line = (p: string, v: unknown): string | undefined => {
      if (v !== undefined && (typeof v !== 'string' || !ONE_LINE.test(v))) invalid(this, `ldap.${p}`, v, 'a value of one line');
      return v as string | undefined;
    };
    const searchBase = line('searchBase', ldap.searchBase);
    const bindUser = line('bindUser', ldap.bindUser);
    if (bindUser !== undefined && ldap.bindPassword === undefined) {
      invalid(this, 'ldap.bindPassword', undefined, 'a reference to the Secret key holding bindUser\'s password: { name, key }');
    }
    if (ldap.bindPassword !== undefined && bindUser === undefined) invalid(this, 'ldap.bindPassword', ldap.bindPassword, 'unset without bindUser');
    if (bindUser !== undefined && searchBase === undefined) {
      invalid(this, 'ldap.bindUser', bindUser, 'unset without searchBase: FAB binds as bindUser only to search for users');
    }
    if (ldap.bindPassword !== undefined) {
      this.env.push(secretEnv(LDAP_BIND_PASSWORD_ENV, validateSecretKeyRef(this, 'ldap.bindPassword', ldap.bindPassword)));
    }
    return {
      server: ldap.uri,
      startTls,
      allowSelfSigned,
      searchBase,
      searchFilter: line('searchFilter', ldap.searchFilter),
      uidField: line('uidField', ldap.uidField) ?? 'uid',
      groupField: line('groupField', ldap.groupField) ?? 'memberOf',
      bindUser,
      bindPasswordEnv: bindUser !== undefined ? LDAP_BIND_PASSWORD_ENV : undefined,
    };
  }
}
