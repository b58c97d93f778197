// Stylesheets imported for their effect: Bun bundles them into the page's CSS.
declare module '*.css'
