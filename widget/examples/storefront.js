/* The widget's optional config, in a file rather than an inline script: the demo storefront's
   Content-Security-Policy allows scripts from its own origin only, as a strict storefront would. */
window.CrossdeskConfig = { position: "right" };
