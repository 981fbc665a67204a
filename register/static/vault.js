// The vault on the account page: a revealed secret masked with Show and Copy, removed from the
// page after its time; the TOTP code's seconds counted down; focus on what a swap brought.
// Plain script under the pages' CSP (no inline code, no styles set): it only reads the markup the
// server rendered (accounts/templates/accounts/_vault.html), works on the first page and on
// whatever htmx swaps in, and the page works without it.
(function () {
  "use strict";

  var DOTS = "\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022";

  function announce(text) {
    var live = document.getElementById("announce");
    if (live) {
      live.textContent = text;
    }
  }

  function copyText(value) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(value);
    }
    // Older browsers and plain-http hosts: a selection copied the old way, removed at once.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = value;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var done = document.execCommand("copy");
      area.remove();
      (done ? resolve : reject)();
    });
  }

  // One secret: its text taken out of the page into this closure, dots shown in its place.
  function secret(row) {
    var plain = row.querySelector("[data-secret-plain]");
    var controls = row.querySelector("[data-secret-controls]");
    if (!plain || !controls) {
      return function () {};
    }
    var value = plain.querySelector(".secret-value").textContent;
    plain.remove();
    var text = controls.querySelector("[data-secret-text]");
    var show = controls.querySelector("[data-secret-show]");
    var copy = controls.querySelector("[data-secret-copy]");
    var label = copy.textContent;
    var restore = null;
    text.textContent = DOTS;
    controls.hidden = false;
    show.addEventListener("click", function () {
      var shown = show.getAttribute("aria-pressed") !== "true";
      show.setAttribute("aria-pressed", shown ? "true" : "false");
      text.textContent = shown ? value : DOTS;
      text.classList.toggle("masked", !shown);
    });
    copy.addEventListener("click", function () {
      copyText(value).then(
        function () {
          copy.textContent = copy.getAttribute("data-copied");
          announce(copy.getAttribute("data-copied"));
        },
        function () {
          copy.textContent = copy.getAttribute("data-failed");
          announce(copy.getAttribute("data-failed"));
        }
      );
      clearTimeout(restore);
      restore = setTimeout(function () {
        copy.textContent = label;
      }, 3000);
    });
    return function forget() {
      clearTimeout(restore);
      value = "";
    };
  }

  // A revealed credential: taken off the page (out of the DOM, not only out of sight) in time.
  function revealed(box) {
    var forgets = Array.prototype.map.call(box.querySelectorAll("[data-secret]"), secret);
    var seconds = parseInt(box.getAttribute("data-hide-after"), 10) || 30;
    var gone = box.parentNode.querySelector("[data-vault-gone]");
    setTimeout(function () {
      var hadFocus = box.contains(document.activeElement);
      forgets.forEach(function (forget) {
        forget();
      });
      box.remove();
      if (gone) {
        gone.hidden = false;
        announce(gone.textContent);
        if (hadFocus) {
          gone.focus();
        }
      }
    }, seconds * 1000);
  }

  // The TOTP code's seconds, counted down from the clock (a tab in the background gets few
  // ticks); at nought the code goes and the page says so.
  function totp(line) {
    var left = line.querySelector("[data-totp-seconds]");
    var expired = line.parentNode.querySelector("[data-totp-expired]");
    var deadline = Date.now() + (parseInt(left.textContent, 10) || 0) * 1000;
    var timer = setInterval(function () {
      var seconds = Math.ceil((deadline - Date.now()) / 1000);
      if (seconds > 0) {
        left.textContent = String(seconds);
        return;
      }
      clearInterval(timer);
      line.remove();
      if (expired) {
        expired.hidden = false;
      }
    }, 1000);
  }

  function each(root, selector, fn) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) {
      found.unshift(root);
    }
    found.forEach(function (el) {
      if (!el.hasAttribute("data-vault-ready")) {
        el.setAttribute("data-vault-ready", "");
        fn(el);
      }
    });
  }

  function start(root, swapped) {
    each(root, "[data-vault-revealed]", revealed);
    each(root, "[data-totp]", totp);
    if (swapped) {
      // The form that was pressed is gone with the old section: go on from what it brought,
      // first the field a refusal named.
      var focus =
        root.querySelector("[aria-invalid=true]") ||
        root.querySelector("[data-vault-focus]") ||
        root.querySelector("h2");
      if (focus) {
        if (!focus.hasAttribute("tabindex")) {
          focus.setAttribute("tabindex", "-1");
        }
        focus.focus();
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    start(document, false);
  });
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt !== document.body) {
      start(elt, elt.id === "vault");
    }
  });
})();
