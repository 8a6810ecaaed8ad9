/** One documentation problem found by the generator. */
export interface ApiDocProblem {
  readonly file: string;
  readonly declaration: string;
  readonly property: string | undefined;
  readonly problem: 'no JSDoc' | 'optional without @default';
}
export declare const API_MD: string;
export declare function generateApiDocs(root?: string): { markdown: string; problems: ApiDocProblem[]; unexported: string[] };
export declare function formatProblems(problems: ApiDocProblem[]): string[];
