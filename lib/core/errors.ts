import { IConstruct } from 'constructs';

/**
 * One refused input: what every construct of this library makes for bad input. The library's constructs record
 * it and `cdk8s synth` reports every one of the app at once ({@link AirflowCdk8sValidationErrors}); a factory,
 * or a construct your code builds that cannot go on, throws it.
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

/** The construct each error was raised for (set by {@link invalid}), to find the app it belongs to. */
const RAISED_AT = new WeakMap<Error, IConstruct>();

/**
 * Throws the library's validation error for `scope`. Inside a construct of the library the error stops that
 * construct only: the construct that built it records the problem ({@link buildPart}, {@link recover}) and
 * goes on, and synth reports every problem of the app at once ({@link AirflowCdk8sValidationErrors}).
 */
export function invalid(
  scope: IConstruct,
  property: string,
  received: unknown,
  allowed: string,
  suggestion?: string,
): never {
  const error = new AirflowCdk8sValidationError(
    scope.constructor.name,
    scope.node.path,
    property,
    received,
    allowed,
    suggestion,
  );
  RAISED_AT.set(error, scope);
  throw error;
}

/** How cdk8s starts the error it throws when node validations fail (`App.synth`, `Testing.synth`). */
const CDK8S_VALIDATION_FAILED = 'Validation failed with the following errors:';

/**
 * Every problem of one app, at once: what `app.synth()` / `Testing.synth(chart)` throw when a construct of the
 * library refused its input (and what reading a construct that could not be built throws). Its message is
 * cdk8s's own list of failed validations, one line per problem, `[construct path] message`:
 *
 * ```
 * Validation failed with the following errors:
 *   [airflow/volumes] AirflowVolumes at "airflow/volumes": property "volumes[0].size" received "5GB"; ...
 *   [airflow/airflow] KubernetesExecutorAirflow at "airflow/airflow": property "parallelism" received 0; ...
 * ```
 */
export class AirflowCdk8sValidationErrors extends Error {
  constructor(
    /** The library's refusals, in the order they were found. */
    public readonly problems: readonly AirflowCdk8sValidationError[],
    /** The other failed validations of the app (its synth-time checks, constructs of your own), as cdk8s words them: `[path] message`. */
    public readonly others: readonly string[] = [],
  ) {
    super(`${CDK8S_VALIDATION_FAILED}\n  ${[...problems.map((p) => `[${p.constructPath}] ${p.message}`), ...others].join('\n  ')}`);
    this.name = 'AirflowCdk8sValidationErrors';
  }
}

/** The problems recorded in each app (by its root construct). */
const PROBLEMS = new WeakMap<IConstruct, AirflowCdk8sValidationError[]>();

/** The problems recorded so far in the app of `scope`, in the order they were found. */
export function problemsOf(scope: IConstruct): readonly AirflowCdk8sValidationError[] {
  return PROBLEMS.get(scope.node.root) ?? [];
}

/**
 * Records `error` in the app of `scope`, for synth to report with every other problem of the app. The same
 * message is recorded once (a refused value that several constructs check, one missing object that several
 * read). The first problem of an app adds to its root the validation that reports them all.
 */
export function recordProblem(scope: IConstruct, error: AirflowCdk8sValidationError): void {
  const root = scope.node.root;
  let problems = PROBLEMS.get(root);
  if (problems === undefined) {
    problems = [];
    PROBLEMS.set(root, problems);
    const recorded = problems;
    root.node.addValidation({ validate: () => reportAll(root, recorded) });
  }
  if (!problems.some((p) => sameProblem(p, error))) problems.push(error);
}

/**
 * Whether two refusals are one mistake: the same message, or the same value of the same property refused by a
 * construct and by one inside it that was given it (the chart's `ingress.hots`, then the Ingress' `hots`).
 */
function sameProblem(a: AirflowCdk8sValidationError, b: AirflowCdk8sValidationError): boolean {
  if (a.message === b.message) return true;
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}/`);
  const endsWith = (long: string, short: string) => long === short || long.endsWith(`.${short}`);
  return (
    describe(a.received) === describe(b.received) &&
    (within(a.constructPath, b.constructPath) || within(b.constructPath, a.constructPath)) &&
    (endsWith(a.property, b.property) || endsWith(b.property, a.property))
  );
}

/**
 * The root's validation: cdk8s runs it first (validations run in tree order), so it runs the app's other
 * validations itself and throws every problem at once as one {@link AirflowCdk8sValidationErrors}, whose
 * `problems` keep their fields (construct, property, value) for code and tests to read.
 */
function reportAll(root: IConstruct, problems: readonly AirflowCdk8sValidationError[]): string[] {
  const others: string[] = [];
  for (const construct of root.node.findAll()) {
    if (construct === root) continue;
    for (const message of construct.node.validate()) others.push(`[${construct.node.path}] ${message}`);
  }
  throw new AirflowCdk8sValidationErrors(problems, others);
}

/** Whether `error` is a refusal of the library (also from a second copy of it, by name). */
function isRefusal(error: unknown): error is AirflowCdk8sValidationError {
  return error instanceof AirflowCdk8sValidationError || (error instanceof Error && error.name === 'AirflowCdk8sValidationError');
}

/** Whether `error` says that a construct read another that could not be built (its problem is recorded already). */
function isIncomplete(error: unknown): boolean {
  return error instanceof AirflowCdk8sValidationErrors;
}

/**
 * Runs a check and returns its result; when it refuses the input, records the problem and returns `fallback`
 * (the default) instead, so that the construct goes on and its later checks are reported too. The fallback
 * never reaches YAML: synth fails with the problem.
 */
export function recover<T>(scope: IConstruct, check: () => T, fallback: T): T {
  try {
    return check();
  } catch (error) {
    if (isRefusal(error)) recordProblem(scope, error);
    else if (!isIncomplete(error)) throw error; // a bug: with its stack trace
    return fallback;
  }
}

/**
 * Builds the part `id` of `scope` (`() => new Part(scope, id, props)`). When the part refuses its input, the
 * problem is recorded and the part, built up to that problem, is returned as an incomplete construct: it stays
 * in the tree, and reading anything of it but its `node` throws {@link AirflowCdk8sValidationErrors} with the
 * app's problems, which stops whatever reads it (silently: the part's problem says why). The parts built after
 * it are built and checked as usual, so one synth reports every problem.
 */
export function buildPart<T extends IConstruct>(scope: IConstruct, id: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (isRefusal(error)) recordProblem(scope, error);
    else if (!isIncomplete(error)) throw error; // a bug: with its stack trace
    const part = scope.node.tryFindChild(id);
    if (part === undefined) throw new AirflowCdk8sValidationErrors(problemsOf(scope));
    return incomplete(part) as T;
  }
}

/** What of an incomplete construct may still be read: its node (the tree walks it), what prints it, symbols. */
const READABLE = new Set<string | symbol>(['node', 'constructor', 'toString']);

/** `construct`, whose reads (but those of {@link READABLE}) throw the problems of its app. */
function incomplete(construct: IConstruct): IConstruct {
  return new Proxy(construct, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || READABLE.has(key)) return Reflect.get(target, key, receiver);
      throw new AirflowCdk8sValidationErrors(problemsOf(target));
    },
  });
}

/**
 * A validation of `scope` run at synth. When the app has problems already, a check that fails on a construct
 * those problems left incomplete says nothing more (the problems say why).
 */
export function addCheck(scope: IConstruct, validate: () => string[]): void {
  scope.node.addValidation({
    validate: () => {
      try {
        return validate();
      } catch (error) {
        if (isIncomplete(error) || problemsOf(scope).length > 0) return [];
        throw error;
      }
    },
  });
}

/**
 * A refusal thrown out of a constructor (one that stops a construct you built yourself, or the chart's own check
 * of its namespace) with the problems its app recorded before it: every problem found so far, in order.
 */
export function problemsWith(error: AirflowCdk8sValidationError): AirflowCdk8sValidationError[] {
  const scope = RAISED_AT.get(error);
  const before = scope ? problemsOf(scope).filter((p) => !sameProblem(p, error)) : [];
  return [...before, error];
}

/**
 * The message of an error the user fixes in the app, for an app's entry point to print without a stack trace
 * (which says nothing about a prop): {@link AirflowCdk8sValidationErrors} (every problem of the synth), the error
 * cdk8s throws at synth when construct validations fail (`Validation failed with the following errors: [path]
 * ...`), or an {@link AirflowCdk8sValidationError} thrown at once (with the problems recorded before it, in the
 * same form). `undefined` for any other error: a bug, whose stack trace is wanted.
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
  if (isRefusal(error)) {
    const all = problemsWith(error);
    return all.length > 1 ? new AirflowCdk8sValidationErrors(all).message : error.message;
  }
  if (error.message.startsWith(CDK8S_VALIDATION_FAILED)) return error.message;
  return undefined;
}
