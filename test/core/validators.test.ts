import { Construct } from 'constructs';
import { AirflowCdk8sValidationError } from '../../lib';
import {
  parseQuantity,
  validateAbsolutePath,
  validateByteQuantity,
  validateChoice,
  validateCpuQuantity,
  validateDnsLabel,
  validateDnsSubdomain,
  validateImage,
  validatePort,
} from '../../lib/core/validators';
import { testChart } from '../support';

class Probe extends Construct {}
const scope = () => new Probe(testChart({ id: 'c', namespace: null }), 'probe');

describe('parseQuantity', () => {
  test.each([
    ['1Gi', 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['1G', 1e9],
    ['250m', 0.25],
    ['1.5', 1.5],
    ['1e3', 1000],
    ['100k', 1e5],
  ])('%s = %d', (q, n) => expect(parseQuantity(q)).toBeCloseTo(n));
  test.each(['', 'Gi', '1 Gi', '1GB', '-1Gi', 'abc'])('%p is not a quantity', (q) => expect(parseQuantity(q)).toBeUndefined());
});

describe('validators accept good values', () => {
  test.each([
    () => validateDnsLabel(scope(), 'p', 'airflow-dags'),
    () => validateDnsSubdomain(scope(), 'p', 'airflow.dags-claim'),
    () => validateByteQuantity(scope(), 'p', '5Gi'),
    () => validateCpuQuantity(scope(), 'p', '500m'),
    () => validateAbsolutePath(scope(), 'p', '/data'),
    () => validatePort(scope(), 'p', 5432),
    () => validateChoice(scope(), 'p', 'IfNotPresent', ['Always', 'IfNotPresent', 'Never']),
    () => validateImage(scope(), 'p', 'apache/airflow:3.1.3'),
    () => validateImage(scope(), 'p', 'localhost:5000/team/airflow-custom:2.11.0-python3.12'),
    () => validateImage(scope(), 'p', `postgres@sha256:${'a'.repeat(64)}`),
    () => validateImage(scope(), 'p', `postgres:17@sha256:${'a'.repeat(64)}`),
    () => validateImage(scope(), 'p', 'my-airflow:latest'), // an explicit tag is the user's choice
  ])('case %#', (check) => expect(check).not.toThrow());
});

describe('validators reject bad values with the one message format', () => {
  test.each<[string, () => unknown, RegExp]>([
    ['dns label too long', () => validateDnsLabel(scope(), 'name', 'a'.repeat(64)), /a DNS-1123 label: 1 to 63 characters/],
    ['dns label uppercase', () => validateDnsLabel(scope(), 'name', 'Dags'), /Did you mean "dags"\?/],
    ['dns subdomain underscore', () => validateDnsSubdomain(scope(), 'name', 'a_b'), /a DNS-1123 subdomain/],
    ['bytes with milli', () => validateByteQuantity(scope(), 'size', '500m'), /a Kubernetes quantity of bytes/],
    ['bytes zero', () => validateByteQuantity(scope(), 'size', '0'), /greater than zero/],
    ['cpu words', () => validateCpuQuantity(scope(), 'cpu', 'two'), /a Kubernetes CPU quantity/],
    ['path with ..', () => validateAbsolutePath(scope(), 'hostRoot', '/data/../etc'), /an absolute path without '\.', '\.\.'/],
    ['path trailing slash', () => validateAbsolutePath(scope(), 'hostRoot', '/data/'), /trailing/],
    ['port zero', () => validatePort(scope(), 'port', 0), /received 0; allowed: a whole number from 1 to 65535/],
    ['port string', () => validatePort(scope(), 'port', '5432'), /received "5432"/],
    ['choice case', () => validateChoice(scope(), 'imagePullPolicy', 'ifnotpresent', ['Always', 'IfNotPresent']), /Did you mean "IfNotPresent"\?/],
    ['image uppercase', () => validateImage(scope(), 'image', 'Apache/Airflow:3.1.3'), /Did you mean "apache\/airflow:3\.1\.3"\?/],
    ['image without tag or digest', () => validateImage(scope(), 'image', 'redis'), /allowed: an image pinned by a tag or a digest.* Add the tag \(or the digest\) of the build you tested: "redis:<tag>"\.$/],
    ['registry port is not a tag', () => validateImage(scope(), 'image', 'localhost:5000/team/airflow'), /allowed: an image pinned by a tag or a digest/],
    ['image spaces', () => validateImage(scope(), 'image', 'apache airflow'), /a container image reference/],
  ])('%s', (_label, check, message) => {
    expect(check).toThrow(AirflowCdk8sValidationError);
    expect(check).toThrow(/^Probe at "c\/probe": property "\w+" received .+; allowed: /);
    expect(check).toThrow(message);
  });
});
