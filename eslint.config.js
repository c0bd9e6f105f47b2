// ESLint flat config. Workflow files run in Temporal's deterministic sandbox: no Node builtins,
// no I/O, no clocks or environment. This config enforces that, and no-floating-promises everywhere.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.bottega/**', 'bin/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
      'object-shorthand': 'error',
      'no-restricted-imports': ['error', { patterns: ['@temporalio/*/src/*', '@temporalio/*/lib/*'] }],
    },
  },
  {
    // node:test's describe/it return promises the runner itself tracks.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins
              .flatMap((m) => [m, `node:${m}`])
              .map((name) => ({
                name,
                message: 'Workflows are deterministic: no Node builtins or I/O. Move this to an activity.',
              })),
            { name: 'pino', message: 'Use log from @temporalio/workflow inside workflows.' },
            { name: 'dockerode', message: 'Docker belongs in activities.' },
            { name: '@aws-sdk/client-s3', message: 'S3 belongs in activities.' },
            { name: '@temporalio/activity', message: 'Activities context is not available in workflows.' },
            { name: '@temporalio/client', message: 'Use child workflows / activities instead of the client.' },
          ],
          patterns: [
            {
              group: ['../activities', '../activities/**'],
              allowTypeImports: true,
              message: 'Workflows may only import activity types (import type).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No environment access in workflows.' },
        { name: 'fetch', message: 'No I/O in workflows.' },
        { name: 'require', message: 'No dynamic requires in workflows.' },
      ],
    },
  }
);
