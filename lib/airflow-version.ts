import { AirflowCdk8sValidationError } from './validation';

/**
 * The Airflow 3 release the library pins by default: the version the official Helm chart pinned when this
 * library was written (chart/values.yaml `airflowVersion: "3.1.3"`).
 */
export const DEFAULT_AIRFLOW_VERSION = '3.1.3';

/** The default image: the official image of {@link DEFAULT_AIRFLOW_VERSION}, pinned by tag. */
export const DEFAULT_AIRFLOW_IMAGE = `apache/airflow:${DEFAULT_AIRFLOW_VERSION}`;

/**
 * The oldest Airflow 2 release the library supports: 2.7.0 is the first with `airflow db migrate`
 * (earlier releases only have `airflow db upgrade`). 2.11 is the Airflow 2 line the library is tested for.
 */
export const MINIMUM_AIRFLOW_2_VERSION = '2.7.0';

const VERSION = /^(\d+)\.(\d+)\.(\d+)$/;

// Tags of the official image: "3.1.3", "3.1.3-python3.12", "slim-3.1.3", "slim-3.1.3-python3.12".
const OFFICIAL_TAG = /^(?:slim-)?(\d+\.\d+\.\d+)(?:-python\d+(?:\.\d+)?)?$/;

/** An Airflow release, `major.minor.patch`. */
export class AirflowVersion {
  /**
   * The version `major.minor.patch`, e.g. `AirflowVersion.of('3.1.3')`.
   * @throws AirflowCdk8sValidationError when `version` is not of that form
   */
  public static of(version: string): AirflowVersion {
    const parsed = AirflowVersion.tryParse(version);
    if (!parsed) {
      throw new AirflowCdk8sValidationError(
        'AirflowVersion',
        'AirflowVersion.of',
        'version',
        version,
        'an Airflow release as major.minor.patch, such as "3.1.3" or "2.11.0"',
      );
    }
    return parsed;
  }

  /** The version `major.minor.patch`, or undefined when `version` is not of that form. */
  public static tryParse(version: unknown): AirflowVersion | undefined {
    const match = typeof version === 'string' ? VERSION.exec(version) : null;
    return match ? new AirflowVersion(Number(match[1]), Number(match[2]), Number(match[3])) : undefined;
  }

  /**
   * The Airflow version an image's tag names, for tags of the official image's form (`3.1.3`,
   * `3.1.3-python3.12`, `slim-3.1.3`); undefined for any other tag (`latest`, `my-build`) and for digests.
   */
  public static fromImage(image: string): AirflowVersion | undefined {
    const tag = imageTag(image);
    const match = tag ? OFFICIAL_TAG.exec(tag) : null;
    return match ? AirflowVersion.tryParse(match[1]) : undefined;
  }

  private constructor(
    /** The major version: 2 or 3 for the releases the library supports. */
    public readonly major: number,
    /** The minor version. */
    public readonly minor: number,
    /** The patch version. */
    public readonly patch: number,
  ) {}

  /** Whether this version is `other` or newer. */
  public isAtLeast(other: AirflowVersion): boolean {
    if (this.major !== other.major) return this.major > other.major;
    if (this.minor !== other.minor) return this.minor > other.minor;
    return this.patch >= other.patch;
  }

  /** Whether the library supports this version: 3.x, or 2.x from {@link MINIMUM_AIRFLOW_2_VERSION}. */
  public get isSupported(): boolean {
    return this.major === 3 || (this.major === 2 && this.isAtLeast(AirflowVersion.of(MINIMUM_AIRFLOW_2_VERSION)));
  }

  /** The version in a form usable in object names: `3-1-3`. */
  public get slug(): string {
    return `${this.major}-${this.minor}-${this.patch}`;
  }

  /** `major.minor.patch`. */
  public toString(): string {
    return `${this.major}.${this.minor}.${this.patch}`;
  }
}

/** The parts of an image reference: repository (with registry), tag and digest. */
export interface ImageReference {
  /** The repository, with registry and port when given: `apache/airflow`, `localhost:5000/team/airflow`. */
  readonly repository: string;
  /** The tag; undefined when the reference has none. */
  readonly tag: string | undefined;
  /** The digest (`sha256:...`); undefined when the reference has none. */
  readonly digest: string | undefined;
}

/** Splits `[registry[:port]/]path[:tag][@digest]` into repository, tag and digest. */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const named = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = named.lastIndexOf('/');
  const colon = named.indexOf(':', lastSlash + 1);
  return colon >= 0
    ? { repository: named.slice(0, colon), tag: named.slice(colon + 1), digest }
    : { repository: named, tag: undefined, digest };
}

function imageTag(image: string): string | undefined {
  const ref = parseImageReference(image);
  return ref.digest ? undefined : ref.tag;
}
