/** The text of lib/core/data/prop-keys.ts, freshly generated from lib/'s interfaces. */
export function render(): string;
/** The path of lib/core/data/prop-keys.ts. */
export const OUT: string;
