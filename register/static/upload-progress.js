/* A file upload's progress (a form marked data-upload-progress, sent by htmx): htmx reports the
   bytes sent as htmx:xhr:progress; this shows the form's <progress> bar and says how far it is.
   Without JavaScript the form posts as any form does and the bar stays hidden. */
(function () {
  "use strict";
  if (window.registerUploadProgress) {
    return;
  }
  window.registerUploadProgress = true;

  function partsOf(form) {
    // The form's own request only: a person picker inside it asks the server too.
    if (!form || !form.matches || !form.matches("[data-upload-progress]")) {
      return null;
    }
    return {
      box: form.querySelector("[data-upload-bar]"),
      bar: form.querySelector("progress"),
      said: form.querySelector("[data-upload-said]")
    };
  }

  document.addEventListener("htmx:beforeSend", function (event) {
    var p = partsOf(event.target);
    if (p) {
      p.bar.value = 0;
      p.bar.textContent = "0%";
      p.said.textContent = "";
      p.box.hidden = false;
    }
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var p = partsOf(event.target);
    if (!p || !event.detail.lengthComputable || !event.detail.total) {
      return;
    }
    var percent = Math.floor((100 * event.detail.loaded) / event.detail.total);
    // The answer's download reports progress too; the bar only ever moves forward.
    if (percent < p.bar.value) {
      return;
    }
    p.bar.value = percent;
    p.bar.textContent = percent + "%";
    p.said.textContent = percent < 100
      ? percent + "% " + (p.said.getAttribute("data-sent") || "")
      : p.said.getAttribute("data-reading") || "";
  });
})();
