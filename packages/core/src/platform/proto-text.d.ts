/** The browser bundle imports .proto schema files as text (esbuild's text loader). */
declare module '*.proto' {
  const text: string;
  export default text;
}
