// Starts Swagger UI on the register's own OpenAPI document. It is a file, not an inline script,
// so the documentation pages run under a Content-Security-Policy allowing this origin's scripts only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The default sends the document to a public validator and shows its badge from there.
    validatorUrl: null,
  });
})();
