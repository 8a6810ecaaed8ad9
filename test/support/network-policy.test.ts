// The NetworkPolicy evaluator of test/support on its own: each rule of networking.k8s.io/v1 with a case that
// allows and one that denies, so that the runtime check of the chart's policies stands on a tested evaluator.
import { Connection, evaluate, inCidr, PolicySet } from './network-policy';

const policy = (name: string, spec: any, namespace = 'app') => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec });
const pod = (labels: Record<string, string>, namespace = 'app', ip?: string) => ({ namespace, labels, ip });
const web = pod({ app: 'web' }, 'app', '10.244.0.5');
const db = pod({ app: 'db' }, 'app', '10.244.0.6');
const allowed = (set: PolicySet, c: Connection) => evaluate(set, c).allowed;

describe('NetworkPolicy evaluator', () => {
  test('no policy: everything is allowed', () => {
    expect(allowed({ policies: [] }, { from: web, to: db, port: 5432 })).toBe(true);
  });

  test('a policy selecting a pod isolates it for ingress (policyTypes defaults to Ingress): nothing but its rules', () => {
    const set = { policies: [policy('db', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 5432 }] }] })] };
    expect(allowed(set, { from: web, to: db, port: 5432 })).toBe(true);
    expect(allowed(set, { from: web, to: db, port: 5433 })).toBe(false);
    expect(allowed(set, { from: pod({ app: 'other' }), to: db, port: 5432 })).toBe(false);
    expect(allowed(set, { from: pod({ app: 'web' }, 'elsewhere'), to: db, port: 5432 })).toBe(false); // podSelector alone: own namespace
    expect(allowed(set, { from: { ip: '192.0.2.1' }, to: db, port: 5432 })).toBe(false);
    // its egress is not isolated (no Egress type), and web has no policy
    expect(allowed(set, { from: db, to: web, port: 80 })).toBe(true);
    expect(evaluate(set, { from: web, to: db, port: 5432 }).ingress.allowedBy).toEqual(['db']);
  });

  test('policyTypes defaults to Ingress and Egress when spec.egress is given; an empty policy with both types denies all', () => {
    const egressOnly = { policies: [policy('e', { podSelector: {}, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] })] };
    expect(evaluate(egressOnly, { from: web, to: db, port: 5432 }).egress.isolated).toBe(true);
    expect(evaluate(egressOnly, { from: web, to: db, port: 5432 }).ingress.isolated).toBe(true);
    expect(allowed(egressOnly, { from: web, to: { ip: '10.96.0.10' }, port: 53, protocol: 'UDP' })).toBe(true);
    expect(allowed(egressOnly, { from: web, to: { ip: '10.96.0.10' }, port: 53, protocol: 'TCP' })).toBe(false);
    const deny = { policies: [policy('deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })] };
    expect(allowed(deny, { from: web, to: db, port: 5432 })).toBe(false);
    expect(allowed(deny, { from: web, to: { ip: '192.0.2.1' }, port: 443 })).toBe(false);
    expect(allowed(deny, { from: { ip: '192.0.2.1' }, to: web, port: 80 })).toBe(false);
    // policies are additive: a second one opens a way through the deny-all
    const open = { policies: [...deny.policies, policy('out', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{}] })] };
    expect(allowed(open, { from: web, to: { ip: '192.0.2.1' }, port: 443 })).toBe(true);
    expect(allowed(open, { from: db, to: { ip: '192.0.2.1' }, port: 443 })).toBe(false);
    expect(allowed(open, { from: web, to: db, port: 5432 })).toBe(false); // egress allowed, db's ingress not
  });

  test('a policy of another namespace does not select the pod', () => {
    const set = { policies: [policy('deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, 'other')] };
    expect(allowed(set, { from: web, to: db, port: 5432 })).toBe(true);
  });

  test('namespaceSelector: pods of the selected namespaces; with a podSelector, both must match', () => {
    const nsOnly = { policies: [policy('ui', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }] }] })] };
    expect(allowed(nsOnly, { from: pod({ any: 'pod' }, 'ingress-nginx'), to: web, port: 8080 })).toBe(true);
    expect(allowed(nsOnly, { from: pod({ any: 'pod' }, 'app'), to: web, port: 8080 })).toBe(false);
    const both = { policies: [policy('dns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 'infra' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }] }] })] };
    const set = { ...both, namespaceLabels: { 'kube-system': { team: 'infra' } } };
    expect(allowed(set, { from: web, to: pod({ 'k8s-app': 'kube-dns' }, 'kube-system'), port: 53, protocol: 'UDP' })).toBe(true);
    expect(allowed(set, { from: web, to: pod({ 'k8s-app': 'other' }, 'kube-system'), port: 53, protocol: 'UDP' })).toBe(false);
    expect(allowed(set, { from: web, to: pod({ 'k8s-app': 'kube-dns' }, 'app'), port: 53, protocol: 'UDP' })).toBe(false);
    expect(allowed({ policies: both.policies }, { from: web, to: pod({ 'k8s-app': 'kube-dns' }, 'kube-system'), port: 53 })).toBe(false); // no team label
    const all = { policies: [policy('all', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: {} }] }] })] };
    expect(allowed(all, { from: pod({}, 'anything'), to: web, port: 1 })).toBe(true);
    expect(allowed(all, { from: { ip: '192.0.2.1' }, to: web, port: 1 })).toBe(false); // not a pod
  });

  test('matchExpressions: In, NotIn, Exists, DoesNotExist', () => {
    const sel = (e: any) => ({ policies: [policy('x', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchExpressions: [e] } }] }] })] });
    expect(allowed(sel({ key: 'app', operator: 'In', values: ['web', 'api'] }), { from: web, to: db, port: 1 })).toBe(true);
    expect(allowed(sel({ key: 'app', operator: 'In', values: ['api'] }), { from: web, to: db, port: 1 })).toBe(false);
    expect(allowed(sel({ key: 'app', operator: 'NotIn', values: ['web'] }), { from: web, to: db, port: 1 })).toBe(false);
    expect(allowed(sel({ key: 'app', operator: 'Exists' }), { from: web, to: db, port: 1 })).toBe(true);
    expect(allowed(sel({ key: 'tier', operator: 'DoesNotExist' }), { from: web, to: db, port: 1 })).toBe(true);
    expect(allowed(sel({ key: 'app', operator: 'DoesNotExist' }), { from: web, to: db, port: 1 })).toBe(false);
  });

  test('ipBlock with except; ports with protocol, endPort and names', () => {
    const set = {
      policies: [
        policy('out', {
          podSelector: { matchLabels: { app: 'web' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 6000, endPort: 6010 }, { port: 'metrics' }] }],
        }),
      ],
    };
    const to = (ip: string) => ({ ip, namedPorts: { metrics: { port: 9102 } } });
    expect(allowed(set, { from: web, to: to('10.2.3.4'), port: 6005 })).toBe(true);
    expect(allowed(set, { from: web, to: to('10.2.3.4'), port: 6011 })).toBe(false);
    expect(allowed(set, { from: web, to: to('10.2.3.4'), port: 6005, protocol: 'UDP' })).toBe(false);
    expect(allowed(set, { from: web, to: to('10.1.3.4'), port: 6005 })).toBe(false);
    expect(allowed(set, { from: web, to: to('11.0.0.1'), port: 6005 })).toBe(false);
    expect(allowed(set, { from: web, to: to('10.2.3.4'), port: 9102 })).toBe(true);
    expect(allowed(set, { from: web, to: { ip: '10.2.3.4' }, port: 9102 })).toBe(false); // no such named port there
  });

  test('inCidr', () => {
    expect(inCidr('10.244.0.5', '10.244.0.0/24')).toBe(true);
    expect(inCidr('10.244.1.5', '10.244.0.0/24')).toBe(false);
    expect(inCidr('192.0.2.1', '0.0.0.0/0')).toBe(true);
    expect(inCidr('192.0.2.1', '192.0.2.1/32')).toBe(true);
    expect(inCidr('192.0.2.2', '192.0.2.1/32')).toBe(false);
  });
});
