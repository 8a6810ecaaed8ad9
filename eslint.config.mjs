// ESLint (flat config): typescript-eslint's recommended rules everywhere, and eslint-plugin-jsdoc's on lib/,
// the public API: JSDoc on every exported declaration and public member, and a `@default` on every optional
// interface property. Run by `npm test` and `npm run lint` (scripts/lint.js); by hand: `npx eslint .`.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import jsdoc from 'eslint-plugin-jsdoc';
import tseslint from 'typescript-eslint';

/** Node's CommonJS globals, for the .js scripts and configs. */
const nodeGlobals = Object.fromEntries(
  ['require', 'module', 'exports', '__dirname', '__filename', 'process', 'console', 'Buffer', 'setTimeout', 'clearTimeout', 'URL']
    .map((name) => [name, name === 'module' || name === 'exports' ? 'writable' : 'readonly']),
);

export default defineConfig([
  // Generated code (cdk8s import, Airflow's config keys), build output, the synthesized YAML.
  { ignores: ['node_modules/', 'build/', 'dist/', 'imports/', 'lib/core/data/'] },

  js.configs.recommended,
  tseslint.configs.recommended,
  // A disable comment that no longer disables anything is stale: remove it.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },

  {
    files: ['**/*.ts'],
    rules: {
      // Synthesized Kubernetes objects are plain JSON of many shapes; tests and validators walk them as `any`.
      '@typescript-eslint/no-explicit-any': 'off',
      // `_name` marks a deliberately unused binding (destructuring to omit a key, a callback's first argument).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },

  // The public API is documented where it is declared: docs/API.md is generated from this JSDoc.
  {
    files: ['lib/**/*.ts'],
    plugins: { jsdoc },
    rules: {
      'jsdoc/require-jsdoc': [
        'error',
        {
          publicOnly: true,
          require: { ClassDeclaration: true, FunctionDeclaration: true, MethodDefinition: true },
          checkConstructors: false,
          contexts: [
            'TSInterfaceDeclaration',
            'TSTypeAliasDeclaration',
            'TSEnumDeclaration',
            'TSPropertySignature',
            'TSMethodSignature',
            'PropertyDefinition[accessibility!="private"][accessibility!="protected"]',
            'ExportNamedDeclaration > VariableDeclaration',
          ],
        },
      ],
      'jsdoc/no-restricted-syntax': [
        'error',
        {
          contexts: [
            {
              context: 'TSPropertySignature[optional=true]',
              comment: 'JsdocBlock:not(:has(JsdocTag[tag=/^default(Value)?$/]))',
              message: 'Document the default of an optional property with @default.',
            },
          ],
        },
      ],
    },
  },
]);
