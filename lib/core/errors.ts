import { IConstruct } from 'constructs';

/**
 * The one error every construct of this library throws for bad input, at synth time.
 *
 * Its message always has the same shape, so users learn to read it once:
 *
 *   AirflowVolumes at "airflow/volumes": property "volumes[1].name" received "Dags";
 *   allowed: a DNS-1123 label (...). Did you mean "dags"?
 */
export class AirflowCdk8sValidationError extends Error {
  constructor(
    /** The construct class that rejected the input, e.g. `AirflowVolumes`. */
    public readonly constructName: string,
    /** The construct path, e.g. `airflow/volumes`. */
    public readonly constructPath: string,
    /** The property, e.g. `volumes[1].size`. */
    public readonly property: string,
    /** The value received. */
    public readonly received: unknown,
    /** What is allowed, in words. */
    public readonly allowed: string,
    /** A suggestion, where one is obvious. */
    public readonly suggestion?: string,
  ) {
    super(
      `${constructName} at "${constructPath}": property "${property}" received ${describe(received)}; ` +
        `allowed: ${allowed}.${suggestion ? ` ${suggestion}` : ''}`,
    );
    this.name = 'AirflowCdk8sValidationError';
  }
}

/** Renders a received value for an error message: JSON where possible, so strings show their quotes. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  try {
    const json = JSON.stringify(value);
    return json.length > 200 ? `${json.slice(0, 197)}...` : json;
  } catch {
    return String(value);
  }
}

/** Throws the library's validation error for `scope`. */
export function invalid(
  scope: IConstruct,
  property: string,
  received: unknown,
  allowed: string,
  suggestion?: string,
): never {
  throw new AirflowCdk8sValidationError(
    scope.constructor.name,
    scope.node.path,
    property,
    received,
    allowed,
    suggestion,
  );
}

/** How cdk8s starts the error it throws when node validations fail (`App.synth`, `Testing.synth`). */
const CDK8S_VALIDATION_FAILED = 'Validation failed with the following errors:';

/**
 * The message of an error the user fixes in the app, for an app's entry point to print without a stack trace
 * (which says nothing about a prop): an {@link AirflowCdk8sValidationError} (a refused prop), or the error cdk8s
 * throws at synth when construct validations fail (`Validation failed with the following errors: [path] ...`,
 * the checks that need the whole app). `undefined` for any other error: a bug, whose stack trace is wanted.
 *
 * ```ts
 * try {
 *   new AirflowChart(app, 'airflow', props);
 *   app.synth();
 * } catch (error) {
 *   const message = userErrorMessage(error);
 *   if (message === undefined) throw error;
 *   console.error(`Error: ${message}`);
 *   process.exitCode = 1;
 * }
 * ```
 */
export function userErrorMessage(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  // By name too: an app may load a second copy of the library (another node_modules), whose class differs.
  if (error instanceof AirflowCdk8sValidationError || error.name === 'AirflowCdk8sValidationError') return error.message;
  if (error.message.startsWith(CDK8S_VALIDATION_FAILED)) return error.message;
  return undefined;
}
