import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { SecretKeyRef, invalid, secretEnv, validateSecretKeyRef } from '../core';

/** Where git-sync finds its credentials: a read-only projected volume of Secret keys. */
export const GIT_SYNC_CREDENTIALS_PATH = '/etc/git-secret';

/** The pod-spec volume name of the git-sync credentials. */
export const GIT_SYNC_CREDENTIALS_VOLUME = 'git-sync-credentials';

/** Options for {@link GitSyncCredentials.https}. */
export interface GitSyncHttpsCredentialsOptions {
  /**
   * The Secret key holding the password or access token. git-sync reads it from a file (`--password-file`),
   * never from the YAML.
   */
  readonly passwordSecret: SecretKeyRef;

  /**
   * The user name (not a secret). Hosts that authenticate by token accept any name with it (GitHub: "git").
   * @default - the value of usernameSecret; "git" when neither is given
   */
  readonly username?: string;

  /**
   * The Secret key holding the user name, when it is kept beside the token.
   * @default - none: the literal `username`
   */
  readonly usernameSecret?: SecretKeyRef;
}

/** Options for {@link GitSyncCredentials.ssh}. */
export interface GitSyncSshCredentialsOptions {
  /** The Secret key holding the private SSH key (a deploy key with read access). */
  readonly keySecret: SecretKeyRef;

  /**
   * The Secret key holding the `known_hosts` lines of the git host (`ssh-keyscan github.com`): git-sync
   * verifies the host's key, so a look-alike host cannot serve DAGs. It may be the same Secret as the key.
   */
  readonly knownHostsSecret: SecretKeyRef;
}

/** The kind of {@link GitSyncCredentials}. */
export enum GitSyncCredentialsKind {
  /** User name and password or token over HTTPS. */
  HTTPS = 'https',
  /** A private key over SSH. */
  SSH = 'ssh',
}

/**
 * How git-sync authenticates to the repository, by Secret reference only: `GitSyncCredentials.https(...)`
 * (user name and token) or `GitSyncCredentials.ssh(...)` (deploy key and known hosts). The Secret values
 * reach git-sync as files of a read-only volume; none is ever in the YAML.
 */
export class GitSyncCredentials {
  /** A user name and a password or access token, for an `https://` repository. */
  public static https(options: GitSyncHttpsCredentialsOptions): GitSyncCredentials {
    return new GitSyncCredentials(GitSyncCredentialsKind.HTTPS, options, undefined);
  }

  /** A private key and the host's known keys, for an SSH repository (`git@host:org/repo.git`, `ssh://...`). */
  public static ssh(options: GitSyncSshCredentialsOptions): GitSyncCredentials {
    return new GitSyncCredentials(GitSyncCredentialsKind.SSH, undefined, options);
  }

  private constructor(
    /** HTTPS or SSH. */
    public readonly kind: GitSyncCredentialsKind,
    private readonly httpsOptions: GitSyncHttpsCredentialsOptions | undefined,
    private readonly sshOptions: GitSyncSshCredentialsOptions | undefined,
  ) {}

  /** Checks the references in the name of `scope` (`property` is the credentials' prop). */
  public validate(scope: IConstruct, property: string): void {
    if (this.httpsOptions) {
      const o = this.httpsOptions;
      validateSecretKeyRef(scope, `${property}.passwordSecret`, o.passwordSecret);
      if (o.username !== undefined && o.usernameSecret !== undefined) {
        invalid(scope, `${property}.username`, o.username, 'either username or usernameSecret, not both');
      }
      if (o.usernameSecret !== undefined) validateSecretKeyRef(scope, `${property}.usernameSecret`, o.usernameSecret);
      if (o.username !== undefined && (typeof o.username !== 'string' || !/^[^\s:@/]+$/.test(o.username))) {
        invalid(scope, `${property}.username`, o.username, "a user name without spaces, ':', '@' or '/'");
      }
    } else {
      validateSecretKeyRef(scope, `${property}.keySecret`, this.sshOptions!.keySecret);
      validateSecretKeyRef(scope, `${property}.knownHostsSecret`, this.sshOptions!.knownHostsSecret);
    }
  }

  /** The git-sync flags that point it at the credential files. */
  public args(): string[] {
    if (this.httpsOptions) {
      const o = this.httpsOptions;
      return [
        ...(o.usernameSecret === undefined ? [`--username=${o.username ?? 'git'}`] : []),
        `--password-file=${GIT_SYNC_CREDENTIALS_PATH}/password`,
      ];
    }
    return [
      `--ssh-key-file=${GIT_SYNC_CREDENTIALS_PATH}/ssh`,
      '--ssh-known-hosts=true',
      `--ssh-known-hosts-file=${GIT_SYNC_CREDENTIALS_PATH}/known_hosts`,
      // ssh needs a passwd entry for the uid it runs as (50000): git-sync adds one to its image's /etc/passwd.
      '--add-user',
    ];
  }

  /** The environment git-sync reads (the user name, when it is kept in a Secret). */
  public env(): k8s.EnvVar[] {
    const ref = this.httpsOptions?.usernameSecret;
    return ref ? [secretEnv('GITSYNC_USERNAME', ref)] : [];
  }

  /**
   * The pod volume with the credential files: the Secret keys projected to `password`, or `ssh` and
   * `known_hosts`, readable by the pod's group (gid 0) only.
   */
  public volume(): k8s.Volume {
    const item = (ref: SecretKeyRef, path: string): k8s.VolumeProjection => ({ secret: { name: ref.name, items: [{ key: ref.key, path }] } });
    const sources = this.httpsOptions
      ? [item(this.httpsOptions.passwordSecret, 'password')]
      : [item(this.sshOptions!.keySecret, 'ssh'), item(this.sshOptions!.knownHostsSecret, 'known_hosts')];
    return { name: GIT_SYNC_CREDENTIALS_VOLUME, projected: { sources, defaultMode: 0o440 } };
  }

  /** The read-only mount of {@link volume} at {@link GIT_SYNC_CREDENTIALS_PATH}. */
  public volumeMount(): k8s.VolumeMount {
    return { name: GIT_SYNC_CREDENTIALS_VOLUME, mountPath: GIT_SYNC_CREDENTIALS_PATH, readOnly: true };
  }
}
