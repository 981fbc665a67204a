// A secret shown once (a one-time password, a token, a signing secret): a copy button, and no way
// back to it. The page answered a form post; replacing its history entry with the list's address
// makes a reload or a return fetch the list, never post the form again.
(function () {
  "use strict";
  var page = document.querySelector("[data-shown-once]");
  if (page && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", page.getAttribute("data-shown-once"));
  }
  function announce(text) {
    var region = document.getElementById("announce");
    if (region) {
      region.textContent = "";
      window.setTimeout(function () { region.textContent = text; }, 50);
    }
  }
  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var secret = document.getElementById(button.getAttribute("data-copy"));
    if (!secret) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = secret.textContent.trim();
      // The clipboard needs a secure context (https, or this machine); elsewhere the text is
      // selected for the reader to copy.
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { announce(button.getAttribute("data-copied")); },
          function () { select(secret); announce(button.getAttribute("data-selected")); }
        );
      } else {
        select(secret);
        announce(button.getAttribute("data-selected"));
      }
    });
  });
})();
