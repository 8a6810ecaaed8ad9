/** The synthesized set of a cdk8s App or Chart in memory, with construct paths: for tests and for apps. */
import { ApiObject, App } from 'cdk8s';
import { renderingOnce } from '../lib/core/render-once';
import { IConstruct } from 'constructs';
import { CrossObjectOptions } from './cross-object';
import { LocatedManifest, validateManifests } from './manifests';
import { validationPropertiesProblems } from './manifest-validation';

/** Every ApiObject under `scope` (an App or a Chart), rendered as it is synthesized, with its construct path. */
export function synthesizedManifests(scope: IConstruct): LocatedManifest[] {
  const objects = scope.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
  // each rendered once, though the Namespace's Pod Security walk renders every pod of the app (lib/core/render-once.ts)
  const all = App.of(scope).node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
  return renderingOnce(all, () => objects.map((o) => ({ manifest: o.toJson(), constructPath: o.node.path })));
}

/**
 * The report lines for every ApiObject under `scope`: empty when the app is clean. `options` are the plugin's
 * properties; an unknown one (or a list of names that is not a list of strings) throws, as the plugin refuses it.
 */
export function validationReport(scope: IConstruct, options: CrossObjectOptions = {}): string[] {
  const problems = validationPropertiesProblems(options);
  if (problems.length > 0) throw new Error(`validationReport: ${problems.join(' ')}`);
  return validateManifests(synthesizedManifests(scope), options).map((f) => f.line);
}
