import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { AirflowVersion, Components, SecretKeyRef, invalid, secretEnv, validateChoice, validateDnsSubdomain, validateSecretKeyRef, refuseUnknownProps } from '../core';
import {
  AirflowPodParts,
  CREATE_USER_RESOURCES,
  airflowContainer,
  oneShotJob,
  resourceRequirements,
  waitForMigrationsContainer,
} from './pod-parts';
import { ControlPlaneOptions } from './airflow-options';

/** The environment variable the create-user Job reads the admin password from (from its Secret). */
export const ADMIN_PASSWORD_ENV = 'AIRFLOW_ADMIN_PASSWORD';

// `airflow users create` (FAB): the user's fields come from the environment, so that the password, read
// from its Secret, never appears in the YAML. Nor on a command line, where `ps` and /proc/<pid>/cmdline show
// it to every process of the node's pid namespace: without --password the command asks for it twice with
// getpass (providers/fab/auth_manager/cli_commands/user_command.py), which reads stdin when there is no
// terminal, and bash's builtin printf writes it into the pipe without starting a process. FAB's command prints
// "<user> already exist in the db" and exits 0 when the user exists, so a re-run is harmless. It is tried
// three times, 10 s apart, against a passing failure (the database restarting...). It does not sync FAB's
// permissions ({@link createUserFabPermsEnv}), so it cannot race the UI, which does. The script contains no
// "$(": Kubernetes would expand that itself.
/**
 * The roles the FAB auth manager of Airflow creates itself: `Admin` and `Public` (FAB's AUTH_ROLE_ADMIN,
 * AUTH_ROLE_PUBLIC) and `Viewer`, `User`, `Op` (ROLE_CONFIGS of
 * providers/fab/auth_manager/security_manager/override.py). The first user may have one of them.
 */
export const FAB_BUILTIN_ROLES: readonly string[] = ['Admin', 'Op', 'User', 'Viewer', 'Public'];

/** The create-user Job's script (`bash -c`) for a user of `role`: the password reaches FAB on stdin, never on a command line. */
export function createUserScript(role: string): string {
  return [
    'for attempt in 1 2 3; do',
    `  printf '%s\\n%s\\n' "$${ADMIN_PASSWORD_ENV}" "$${ADMIN_PASSWORD_ENV}" | airflow users create --role ${role} ` +
      '--username "$AIRFLOW_ADMIN_USERNAME" --email "$AIRFLOW_ADMIN_EMAIL" ' +
      '--firstname "$AIRFLOW_ADMIN_FIRSTNAME" --lastname "$AIRFLOW_ADMIN_LASTNAME" && exit 0',
    '  echo "create-user: attempt $attempt of 3 failed: retrying in 10 s" >&2',
    '  sleep 10',
    'done',
    'exit 1',
  ].join('\n');
}

/** The create-user Job's script for the Admin role (the default). */
export const CREATE_USER_SCRIPT = createUserScript('Admin');

/**
 * The variable that turns off FAB's permission sync (`[fab] update_fab_perms`, `[webserver] update_fab_perms`
 * before Airflow 2.9) in the create-user Job, with its value `False`.
 *
 * On a first install the UI (api-server, or webserver on Airflow 2) and the Job start together once the
 * migrations are done, and both would sync: `airflow users create` builds FAB's app builder
 * (providers/fab/auth_manager/cli_commands/utils.py, `get_application_builder`), whose `init_app` calls the auth
 * manager's `init_flask_resources`, which runs `sync_roles` when `[fab] update_fab_perms` is true
 * (providers/fab/auth_manager/fab_auth_manager.py, `_sync_appbuilder_roles`), as the UI does at its start.
 * `sync_roles` commits the Admin role's permissions unguarded (`update_admin_permission`), so the loser of the
 * two died on `ab_permission_view_role_permission_view_id_role_id_key`, and when the UI lost, its container
 * restarted. The Job needs none of the sync: the Admin role it gives the user is created by the security
 * manager's `create_db` whatever the option (security_manager/override.py: `add_role(self.auth_role_admin)`,
 * which catches a concurrent insert), and the UI's sync gives that role its permissions. With the option
 * off, the Job writes no permission table at all (`ab_permission`, `ab_view_menu`, `ab_permission_view`,
 * `ab_permission_view_role`): only the user and its role.
 */
export function createUserFabPermsEnv(version: AirflowVersion): k8s.EnvVar {
  return { name: version.updateFabPermsEnv, value: 'False' };
}

/** The control plane's options of the first admin user. */
export type AdminUserOptions = Required<Pick<ControlPlaneOptions, 'createAdminUser' | 'adminUsername' | 'adminEmail' | 'adminFirstName' | 'adminLastName' | 'adminRole'>>;

/** The control plane's options of the first admin user with their defaults (the user `admin`, role Admin), resolved once. */
export function resolveAdminUserOptions(props: ControlPlaneOptions): AdminUserOptions {
  return {
    createAdminUser: props.createAdminUser ?? true,
    adminUsername: props.adminUsername ?? 'admin',
    adminEmail: props.adminEmail ?? 'admin@example.com',
    adminFirstName: props.adminFirstName ?? 'Admin',
    adminLastName: props.adminLastName ?? 'User',
    adminRole: props.adminRole ?? 'Admin',
  };
}

const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Props for {@link AdminUser}. */
export interface AdminUserProps {
  /** What the Airflow pods are built from. */
  readonly parts: AirflowPodParts;

  /** Where the password is: a key of a Secret. */
  readonly passwordSecret: SecretKeyRef;

  /**
   * The user name to log in with.
   * @default "admin"
   */
  readonly username?: string;

  /**
   * The user's e-mail address (FAB requires one).
   * @default "admin@example.com"
   */
  readonly email?: string;

  /**
   * The user's first name.
   * @default "Admin"
   */
  readonly firstName?: string;

  /**
   * The user's last name.
   * @default "User"
   */
  readonly lastName?: string;

  /**
   * The user's FAB role, one of {@link FAB_BUILTIN_ROLES} (FAB's own roles: the only ones that exist when the
   * Job runs).
   * @default "Admin"
   */
  readonly role?: string;

  /**
   * The ServiceAccount the Job runs as (created here, without a token).
   * @default "airflow-create-user"
   */
  readonly serviceAccountName?: string;
}

/**
 * The first user of the UI, with the Admin role (or the one given), created by a Job with FAB's `airflow users create` once the
 * migrations have run. The password is read from a Secret through the environment: it is never in the YAML.
 * When the user already exists, the command leaves it (and its password) alone and succeeds. Like the
 * migration Job, the Job is named after a hash of its pod spec, so that applying the same YAML again is a
 * no-op and a changed spec makes a new Job rather than an error about an immutable template.
 */
export class AdminUser extends Construct {
  /** The user name. */
  public readonly username: string;

  /** The ServiceAccount. */
  public readonly serviceAccount: k8s.KubeServiceAccount;

  /** The Job. */
  public readonly job: k8s.KubeJob;

  private readonly name: () => string;

  constructor(scope: Construct, id: string, props: AdminUserProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AdminUserProps');
    const parts = props.parts;
    this.username = props.username ?? 'admin';
    if (!USERNAME.test(this.username)) {
      invalid(this, 'username', this.username, "1 to 64 letters, digits, '_', '.', '@' and '-'");
    }
    const email = props.email ?? 'admin@example.com';
    if (!EMAIL.test(email)) invalid(this, 'email', email, 'an e-mail address such as "admin@example.com"');
    // The kubelet expands $(VAR) in an environment value from the variables before it, the secrets' included:
    // "$(AIRFLOW_DB_PASSWORD)@example.com" would store the database password as the user's e-mail.
    for (const [property, value] of [['email', email], ['firstName', props.firstName], ['lastName', props.lastName]] as const) {
      if (typeof value === 'string' && value.includes('$(')) {
        invalid(this, property, value, 'a value without "$(": the kubelet expands $(VAR) in environment values, so $(AIRFLOW_DB_PASSWORD) would put the database password in the user\'s record');
      }
    }
    const firstName = props.firstName ?? 'Admin';
    const lastName = props.lastName ?? 'User';
    for (const [property, value] of [['firstName', firstName], ['lastName', lastName]] as const) {
      if (value.length === 0 || value.length > 64 || /[\r\n]/.test(value)) {
        invalid(this, property, value, '1 to 64 characters on one line');
      }
    }
    const role = validateChoice(this, 'role', props.role ?? 'Admin', FAB_BUILTIN_ROLES);
    validateSecretKeyRef(this, 'passwordSecret', props.passwordSecret);
    const serviceAccountName = validateDnsSubdomain(this, 'serviceAccountName', props.serviceAccountName ?? 'airflow-create-user');
    const built = oneShotJob(this, {
      parts,
      component: Components.CREATE_USER,
      serviceAccountName,
      namePrefix: 'airflow-create-user',
      initContainers: [parts.waitForDatabase, waitForMigrationsContainer(parts)],
      container: airflowContainer(parts, {
        name: 'create-user',
        args: ['bash', '-c', createUserScript(role)],
        extraEnv: [
          { name: 'AIRFLOW_ADMIN_USERNAME', value: this.username },
          { name: 'AIRFLOW_ADMIN_EMAIL', value: email },
          { name: 'AIRFLOW_ADMIN_FIRSTNAME', value: firstName },
          { name: 'AIRFLOW_ADMIN_LASTNAME', value: lastName },
          secretEnv(ADMIN_PASSWORD_ENV, props.passwordSecret),
          createUserFabPermsEnv(parts.airflowVersion),
        ],
        resources: resourceRequirements(CREATE_USER_RESOURCES),
      }),
    });
    this.serviceAccount = built.serviceAccount;
    this.job = built.job;
    this.name = built.jobName;
  }

  /** The Job's name: `airflow-create-user-<hash of the pod spec>`, as it is synthesized. */
  public get jobName(): string {
    return this.name();
  }
}
