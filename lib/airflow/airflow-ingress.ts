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

  /** Whether the Ingress terminates TLS (`tlsSecretName`): users reach the UI over https, and the Ingress sends it plain http. */
  public readonly tls: boolean;

  /** The Ingress. */
  public readonly ingress: k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: AirflowIngressProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowIngressProps');
    const host = validateDnsSubdomain(this, 'ingress.host', props.host);
    // The API server refuses an IP address as an Ingress host ("must be a DNS name, not an IP address").
    if (/^[0-9.]+$/.test(host)) invalid(this, 'ingress.host', host, 'a DNS name, not an IP address: the API server refuses an IP as an Ingress host', 'Leave the Ingress out and use apiServer.serviceType "LoadBalancer" or "NodePort" to reach the UI by address.');
    const path = props.path ?? '/';
    if (typeof path !== 'string' || !PATH.test(path) || path.split('/').some((part) => part === '.' || part === '..')) {
      invalid(this, 'ingress.path', path, 'an absolute URL path of unreserved characters without a trailing "/" nor "." or ".." segments, such as "/" or "/airflow"');
    }
    for (const key of Object.keys(props.annotations ?? {})) {
      // ingress-nginx copies a *-snippet annotation into its nginx.conf verbatim: with it, whoever writes the
      // Ingress runs configuration in the controller, which reads every Secret of the cluster (CVE-2021-25742);
      // ingress-nginx turns them off by default since v1.9 (allow-snippet-annotations: false).
      if (/^nginx\.ingress\.kubernetes\.io\/[a-z-]*snippet$/.test(key)) {
        invalid(
          this,
          `ingress.annotations["${key}"]`,
          '(value not shown)',
          'no ingress-nginx snippet annotation: its text goes into the controller\'s nginx.conf as it is, and the controller can read every Secret of the cluster (CVE-2021-25742)',
          'Use the dedicated annotations (nginx.ingress.kubernetes.io/proxy-body-size, ...) or a ConfigMap of the controller that its administrators review.',
        );
      }
    }
    if (props.className !== undefined) validateDnsSubdomain(this, 'ingress.className', props.className);
    if (props.tlsSecretName !== undefined) validateDnsSubdomain(this, 'ingress.tlsSecretName', props.tlsSecretName);
    this.basePath = path === '/' ? '' : path;
    this.tls = Boolean(props.tlsSecretName);
    this.url = `${this.tls ? 'https' : 'http'}://${host}${this.basePath}`;

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
