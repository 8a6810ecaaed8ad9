import { IConstruct } from 'constructs';
import { AirflowGeneration, AirflowVersion, MINIMUM_AIRFLOW_2_VERSION, invalid, parseImageReference, validateImage } from '../core';

/**
 * An image that has what the deployment needs (not the official slim image), by tag or by digest. A digest
 * works for the task pods too: with an image by digest the control plane leaves `[kubernetes_executor]
 * worker_container_repository` and `worker_container_tag` unset, and the KubernetesExecutor then keeps the
 * image of the pod template's `base` container (see `controlPlaneConfig`).
 */
export function validateAirflowImage(scope: IConstruct, image: string, property: string = 'image'): string {
  validateImage(scope, property, image);
  const ref = parseImageReference(image);
  if (AirflowVersion.isSlimImage(image)) {
    invalid(
      scope,
      property,
      image,
      'an image with the apache-airflow-providers-cncf-kubernetes (the KubernetesExecutor), -postgres (the ' +
        'metadata database) and -fab (the UI login) packages: the official slim image has none of them',
      `Use ${JSON.stringify(`${ref.repository}:${ref.tag!.replace(/^slim-/, '')}`)}, or build your own image FROM the slim one with those providers and give it your own tag.`,
    );
  }
  return image;
}

/** The Airflow version of `image` (its tag, or `explicit`, which must agree with the tag) and its generation. */
export function resolveAirflowVersion(scope: IConstruct, image: string, explicit: string | undefined): [AirflowVersion, AirflowGeneration] {
  const fromTag = AirflowVersion.fromImage(image);
  let version: AirflowVersion;
  if (explicit !== undefined) {
    const parsed = AirflowVersion.tryParse(explicit);
    if (!parsed) {
      invalid(scope, 'airflowVersion', explicit, 'an Airflow release as major.minor.patch, such as "3.1.3" or "2.11.0"');
    }
    if (fromTag && fromTag.toString() !== parsed.toString()) {
      invalid(
        scope,
        'airflowVersion',
        explicit,
        `the version the image's tag names (${fromTag}), or no airflowVersion at all`,
        `The image "${image}" is Airflow ${fromTag}.`,
      );
    }
    version = parsed;
  } else if (fromTag) {
    version = fromTag;
  } else {
    invalid(
      scope,
      'airflowVersion',
      undefined,
      `the Airflow version inside the image, e.g. "3.1.3" or "2.11.0": it is required because ` +
        (parseImageReference(image).digest !== undefined ? `"${image}" is pinned by digest, which names no version` : `the tag of "${image}" does not name a version`) +
        ', and the version decides the components, commands and configuration',
      `Set airflowVersion to the version your image is built FROM (see "airflow version" inside it).`,
    );
  }
  const generation = AirflowGeneration.of(version);
  if (!generation) {
    invalid(
      scope,
      'airflowVersion',
      version.toString(),
      `Airflow 3.x, or Airflow 2.x from ${MINIMUM_AIRFLOW_2_VERSION} (the first with "airflow db migrate")`,
    );
  }
  return [version, generation];
}

/**
 * The task pods' image (`worker.image`), checked like `image`; a tag that names another Airflow version than the
 * control plane's is refused (the task runner and the scheduler, dag-processor and API server must be one Airflow:
 * Airflow 3's execution API is versioned with it, and on Airflow 2 tasks write to the same database schema). A tag
 * that names no version (`latest`, a build tag) or a digest is the user's choice, taken as the same version.
 */
export function resolveWorkerImage(scope: IConstruct, given: string | undefined, image: string, version: AirflowVersion): string {
  if (given === undefined) return image;
  validateAirflowImage(scope, given, 'worker.image');
  // An official tag ("3.2.2-python3.12"), or a build of one's own tagged after the Airflow it is built FROM
  // ("3.1.3-extras"): a leading release the library supports names that Airflow (a tag such as "1.0.0" does not).
  const leading = /^(\d+\.\d+\.\d+)[-_.+]/.exec(parseImageReference(given).tag ?? '');
  const leadingVersion = leading ? AirflowVersion.tryParse(leading[1]) : undefined;
  const fromTag = AirflowVersion.fromImage(given) ?? (leadingVersion?.isSupported ? leadingVersion : undefined);
  if (fromTag !== undefined && fromTag.toString() !== version.toString()) {
    invalid(
      scope,
      'worker.image',
      given,
      `an image of the control plane's Airflow, ${version} (the tag names ${fromTag}): the task pods run the same Airflow as ` +
        'the scheduler, dag-processor and API server, whose execution API and database schema are versioned with it',
      `Build the task image FROM apache/airflow:${version} (or change image to Airflow ${fromTag} too).`,
    );
  }
  return given;
}
