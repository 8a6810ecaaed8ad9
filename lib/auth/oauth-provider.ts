import { SecretKeyRef } from '../core';

/** What every OAuth provider needs: the client registered with it. */
export interface OAuthClientOptions {
  /**
   * The OAuth client id the provider gave Airflow's registration. Not a secret (every browser sees it in the
   * authorize URL), so it is written into `webserver_config.py`.
   */
  readonly clientId: string;

  /**
   * The Secret key holding the client secret. The UI's container reads it into an environment variable
   * (`valueFrom.secretKeyRef`) and `webserver_config.py` reads that with `os.environ`: the secret is never in
   * the YAML.
   */
  readonly clientSecret: SecretKeyRef;

  /**
   * The scopes asked for.
   * @default - the provider's: "openid email profile" for OpenID Connect providers, Google's "email profile",
   * GitHub's "read:user"
   */
  readonly scopes?: string[];
}

/** A generic OpenID Connect provider: endpoints from its discovery document. */
export interface GenericOAuthOptions extends OAuthClientOptions {
  /**
   * The provider's name in FAB: the login page's button and the prefix of the callback URL
   * (`<base URL>/auth/oauth-authorized/<name>`). Lowercase letters, digits, '_' and '-', and none of the names
   * FAB gives a user-info getter of its own (github, google, azure, okta, keycloak...): use their factories.
   */
  readonly name: string;

  /**
   * The issuer's https URL; FAB (Authlib) reads the endpoints from `<issuerUrl>/.well-known/openid-configuration`
   * and the user's `preferred_username`, `email`, names and `groups` (the role keys) from its userinfo endpoint.
   */
  readonly issuerUrl: string;

  /**
   * The Font Awesome icon of the login button.
   * @default "fa-openid"
   */
  readonly icon?: string;
}

/** Okta: an OpenID Connect application of an Okta org. */
export interface OktaOAuthOptions extends OAuthClientOptions {
  /** The Okta org's host, such as "example.okta.com" (its default authorization server is used). */
  readonly domain: string;
}

/** Microsoft Entra ID (Azure AD): an app registration of a tenant. */
export interface AzureAdOAuthOptions extends OAuthClientOptions {
  /** The directory (tenant) id, a GUID, or the tenant's domain ("contoso.onmicrosoft.com"). */
  readonly tenantId: string;
}

/** Keycloak (17 and newer, without the /auth prefix): a client of a realm. */
export interface KeycloakOAuthOptions extends OAuthClientOptions {
  /** The Keycloak server's https URL, such as "https://keycloak.example.com". */
  readonly url: string;
  /** The realm. */
  readonly realm: string;
}

/** The kinds of provider {@link OAuthProvider}'s factories make. */
export type OAuthProviderKind = 'generic' | 'google' | 'github' | 'okta' | 'azure' | 'keycloak';

/**
 * An OAuth / OpenID Connect provider of the UI's login (FAB's `OAUTH_PROVIDERS`), made by a factory:
 * `OAuthProvider.google({ clientId, clientSecret: { name, key } })`, `.github`, `.okta`, `.azureAd`, `.keycloak`,
 * or `.generic` for any OpenID Connect issuer. The options are checked when the `auth` feature is added.
 */
export class OAuthProvider {
  /** Google (FAB's "google": the user's id, names and e-mail; no groups). */
  public static google(options: OAuthClientOptions): OAuthProvider {
    return new OAuthProvider('google', 'OAuthClientOptions', options);
  }

  /** GitHub (FAB's "github": the login as `github_<login>`; no groups). */
  public static github(options: OAuthClientOptions): OAuthProvider {
    return new OAuthProvider('github', 'OAuthClientOptions', options);
  }

  /** Okta (FAB's "okta": `okta_<sub>`, names, e-mail, and `groups` as role keys). */
  public static okta(options: OktaOAuthOptions): OAuthProvider {
    return new OAuthProvider('okta', 'OktaOAuthOptions', options);
  }

  /** Microsoft Entra ID (FAB's "azure": the id token's `oid`, names, e-mail, and app `roles` as role keys). */
  public static azureAd(options: AzureAdOAuthOptions): OAuthProvider {
    return new OAuthProvider('azure', 'AzureAdOAuthOptions', options);
  }

  /** Keycloak (FAB's "keycloak": `preferred_username`, names, e-mail, and `groups` as role keys). */
  public static keycloak(options: KeycloakOAuthOptions): OAuthProvider {
    return new OAuthProvider('keycloak', 'KeycloakOAuthOptions', options);
  }

  /** Any OpenID Connect provider, by its issuer's discovery document. */
  public static generic(options: GenericOAuthOptions): OAuthProvider {
    return new OAuthProvider('generic', 'GenericOAuthOptions', options);
  }

  private constructor(
    /** Which factory made it. */
    public readonly kind: OAuthProviderKind,
    /** The interface of its options (for the check of unknown options). */
    public readonly optionsInterface: string,
    /** The options as given (checked by `AirflowAuth`). */
    public readonly options: OAuthClientOptions,
  ) {}
}
