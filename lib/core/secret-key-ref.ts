import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { invalid } from './errors';
import { isAtSynth } from './lazy';
import { validateDnsSubdomain } from './validators';

/** A key of a Kubernetes Secret. */
export interface SecretKeyRef {
  /** The Secret's name (in the chart's namespace). */
  readonly name: string;
  /** The key within the Secret. */
  readonly key: string;
}

/**
 * An environment variable read from a Secret key: `{ name, valueFrom: { secretKeyRef } }`; with `optional`, the
 * `secretKeyRef.optional` flag (true: the pod starts without the Secret or the key, and the variable is unset).
 */
export function secretEnv(envName: string, ref: SecretKeyRef, optional?: boolean): k8s.EnvVar {
  return { name: envName, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key, ...(optional === undefined ? {} : { optional }) } } };
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** A reference to a key of a Secret: a DNS-1123 subdomain name and a valid Secret key. */
export function validateSecretKeyRef(scope: IConstruct, property: string, value: unknown): SecretKeyRef {
  if (typeof value !== 'object' || value === null) {
    invalid(scope, property, value, 'a reference to a Secret key: { name: "my-secret", key: "my-key" }');
  }
  const ref = value as SecretKeyRef;
  if (isAtSynth(ref.name) && isAtSynth(ref.key)) return ref; // taken from the chart's secrets, checked at synth
  validateDnsSubdomain(scope, `${property}.name`, ref.name);
  if (typeof ref.key !== 'string' || ref.key.length === 0 || ref.key.length > 253 || !SECRET_KEY.test(ref.key)) {
    invalid(scope, `${property}.key`, ref.key, "a Secret key: 1 to 253 characters of letters, digits, '-', '_' and '.'");
  }
  return { name: ref.name, key: ref.key };
}
