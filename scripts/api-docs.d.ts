export declare const API_MD: string;
export declare function generateApiDocs(root?: string): { markdown: string; unexported: string[] };
