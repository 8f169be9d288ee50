// WGSL sources are bundled as text (esbuild loader '.wgsl': 'text'; tests register the same for require()).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
