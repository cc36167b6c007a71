// esbuild loads .css as text (scripts/build.mjs: loader '.css': 'text'); styles.ts installs it.
declare module '*.css' {
  const text: string;
  export default text;
}
