import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { airflowLabels, invalid, validateDnsSubdomain, refuseUnknownProps } from '../core';
import { IngressOptions } from './airflow-options';

/** Props for {@link AirflowIngress}. */
export interface AirflowIngressProps extends IngressOptions {
  /** The UI's component name, for the Ingress's labels (`api-server`). */
  readonly component: string;

  /** The UI's Service. */
  readonly serviceName: string;

  /** The Service port the Ingress sends traffic to. */
  readonly servicePort: number;
}

const PATH = /^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/;

/**
 * An Ingress (networking.k8s.io/v1) in front of the UI's Service, and the URL it gives the UI: what
 * `[api] base_url` (Airflow 2: `[webserver] base_url`) must say for links, redirects and logins to work.
 */
export class AirflowIngress extends Construct {
  /** The URL users reach the UI at: `https://airflow.example.com/airflow` (http without a TLS Secret). */
  public readonly url: string;

  /** The path the UI is served under (`/airflow`), or "" at the root. */
  public readonly basePath: string;

  /** The Ingress. */
  public readonly ingress: k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: AirflowIngressProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowIngressProps');
    const host = validateDnsSubdomain(this, 'ingress.host', props.host);
    const path = props.path ?? '/';
    if (typeof path !== 'string' || !PATH.test(path)) {
      invalid(this, 'ingress.path', path, 'an absolute URL path of unreserved characters without a trailing "/", such as "/" or "/airflow"');
    }
    if (props.className !== undefined) validateDnsSubdomain(this, 'ingress.className', props.className);
    if (props.tlsSecretName !== undefined) validateDnsSubdomain(this, 'ingress.tlsSecretName', props.tlsSecretName);
    this.basePath = path === '/' ? '' : path;
    this.url = `${props.tlsSecretName ? 'https' : 'http'}://${host}${this.basePath}`;

    this.ingress = new k8s.KubeIngress(this, 'resource', {
      metadata: {
        name: props.serviceName,
        labels: airflowLabels(props.component),
        ...(props.annotations && Object.keys(props.annotations).length ? { annotations: { ...props.annotations } } : {}),
      },
      spec: {
        ...(props.className ? { ingressClassName: props.className } : {}),
        ...(props.tlsSecretName ? { tls: [{ hosts: [host], secretName: props.tlsSecretName }] } : {}),
        rules: [
          {
            host,
            http: {
              paths: [
                {
                  path,
                  pathType: 'Prefix',
                  backend: { service: { name: props.serviceName, port: { number: props.servicePort } } },
                },
              ],
            },
          },
        ],
      },
    });
  }
}
