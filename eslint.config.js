// ESLint for the browser app (make lint; make test runs it first): eslint-plugin-react-hooks'
// recommended rules, that is the rules of hooks, hook dependency lists (an error here, not a
// warning) and the React Compiler's checks (no ref read or written during render, no setState
// straight in an effect body, no impure call during render, ...), so every eslint-disable
// comment in client/ means something and says why. Types are tsc's job (npm run typecheck).
import tseslint from 'typescript-eslint'
import reactHooks from 'eslint-plugin-react-hooks'

export default [
  { ignores: ['client/dist/**', 'node_modules/**'] },
  {
    files: ['client/src/**/*.{ts,tsx}'],
    languageOptions: { parser: tseslint.parser, parserOptions: { ecmaFeatures: { jsx: true } } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.flat.recommended.rules,
      'react-hooks/exhaustive-deps': 'error',
    },
  },
]
