/** A Kubernetes object as synthesized. */
export type Manifest = { kind?: string; metadata?: { name?: string; namespace?: string }; [key: string]: any };
export declare const START: string;
export declare const END: string;
export declare function renderDiagram(objects: Manifest[]): string;
export declare function renderBlock(objects: Manifest[]): string;
export declare function readManifests(dir: string): Manifest[];
export declare function synthesize(root?: string): Manifest[];
export declare function readmeBlock(readme: string): string | undefined;
export declare function replaceBlock(readme: string, block: string): string;
export declare function podTemplateOf(objects: Manifest[]): { configMap: Manifest; pod: Manifest } | undefined;
