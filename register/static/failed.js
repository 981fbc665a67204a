/* When an htmx request fails (the server refused it, or could not be reached), say so at the top
   of the page instead of leaving the section as it was: htmx swaps nothing on an error. The
   words come from the page (data-failed, data-offline on <body>, in the reader's language) and
   the server's own explanation from its error page.
   A refused form that the server sends back with its errors next to the fields (the header
   X-Form-Refused) is swapped in like a success instead: that answer is what to show. */
(function () {
  "use strict";

  function say(text) {
    var main = document.getElementById("main");
    var box = document.getElementById("request-failed");
    if (!box) {
      box = document.createElement("p");
      box.id = "request-failed";
      box.className = "alert";
      box.setAttribute("role", "alert");
      var heading = main.querySelector("h1");
      main.insertBefore(box, heading ? heading.nextSibling : main.firstChild);
    }
    box.textContent = text;
    box.setAttribute("tabindex", "-1");
    box.focus();
  }

  function explanation(xhr) {
    try {
      var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var found = page.querySelector("main [role=alert]") || page.querySelector("main h1");
      return found ? found.textContent.trim() : "";
    } catch (ignored) {
      return "";
    }
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("X-Form-Refused") === "true") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var why = explanation(event.detail.xhr);
    say((document.body.getAttribute("data-failed") || "") + (why ? " " + why : ""));
  });
  document.addEventListener("htmx:sendError", function () {
    say(document.body.getAttribute("data-offline") || "");
  });
})();
