/* The person picker (person_picker in _forms.html): htmx fetches the people who match as you type;
   this script makes the list a combobox the keyboard moves through (ArrowDown/ArrowUp, Enter to
   choose, Escape to close), puts the chosen person's id in the hidden field, and says who was
   chosen. Without it the form still works: the typed text is resolved when the form is sent. */
(function () {
  "use strict";
  if (window.registerPicker) {
    return;
  }
  window.registerPicker = true;

  function partsOf(element) {
    var box = element && element.closest ? element.closest("[data-picker]") : null;
    if (!box) {
      return null;
    }
    return {
      box: box,
      input: box.querySelector("[data-picker-input]"),
      id: box.querySelector("[data-picker-id]"),
      results: box.querySelector(".picker-results"),
      status: box.querySelector("[aria-live]")
    };
  }

  function options(p) {
    return Array.prototype.slice.call(p.results.querySelectorAll('[role="option"]'));
  }

  function setUp(input) {
    if (input.getAttribute("role") === "combobox") {
      return;
    }
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
  }

  function setUpAll(root) {
    Array.prototype.forEach.call(
      (root || document).querySelectorAll("[data-picker-input]"), setUp
    );
  }

  function close(p, clear) {
    p.input.setAttribute("aria-expanded", "false");
    p.input.removeAttribute("aria-activedescendant");
    p.input.removeAttribute("aria-controls");
    if (clear) {
      p.results.innerHTML = "";
    }
  }

  function open(p) {
    var list = p.results.querySelector('[role="listbox"]');
    if (!list) {
      close(p, false);
      return;
    }
    setUp(p.input);
    p.input.setAttribute("aria-controls", list.id);
    p.input.setAttribute("aria-expanded", "true");
    p.input.removeAttribute("aria-activedescendant");
  }

  function activeIndex(p) {
    return options(p).findIndex(function (o) {
      return o.getAttribute("aria-selected") === "true";
    });
  }

  function activate(p, index) {
    var all = options(p);
    if (!all.length) {
      return;
    }
    index = (index + all.length) % all.length;
    all.forEach(function (o, i) {
      o.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    p.input.setAttribute("aria-activedescendant", all[index].id);
    all[index].scrollIntoView({ block: "nearest" });
  }

  function choose(p, option) {
    if (window.htmx) {
      // A search still on its way would open the list again over the choice.
      window.htmx.trigger(p.input, "htmx:abort");
    }
    p.id.value = option.getAttribute("data-id");
    p.input.value = option.getAttribute("data-name");
    Array.prototype.forEach.call(p.box.querySelectorAll('input[type="radio"]'), function (r) {
      r.checked = false;
    });
    var said = Array.prototype.map.call(option.querySelectorAll("span"), function (part) {
      return part.textContent.replace(/\s+/g, " ").trim();
    }).filter(Boolean).join(", ");
    close(p, true);
    p.status.textContent = (p.input.getAttribute("data-chosen") || "") + " " + said;
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpAll(document);
  });
  document.addEventListener("htmx:load", function (event) {
    setUpAll(event.target);
  });

  document.addEventListener("input", function (event) {
    if (!event.target.matches || !event.target.matches("[data-picker-input]")) {
      return;
    }
    var p = partsOf(event.target);
    // The text no longer names the one chosen: the form resolves what is typed, unless another is chosen.
    p.id.value = "";
    if (!p.input.value.trim()) {
      close(p, true);
      p.status.textContent = "";
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!event.target.matches || !event.target.matches("[data-picker-input]")) {
      return;
    }
    var p = partsOf(event.target);
    var expanded = p.input.getAttribute("aria-expanded") === "true";
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options(p).length) {
        return;
      }
      event.preventDefault();
      if (!expanded) {
        open(p);
      }
      var at = activeIndex(p);
      activate(p, event.key === "ArrowDown" ? at + 1 : at < 0 ? -1 : at - 1);
    } else if (event.key === "Enter" && expanded && activeIndex(p) >= 0) {
      event.preventDefault();
      choose(p, options(p)[activeIndex(p)]);
    } else if (event.key === "Escape" && expanded) {
      event.preventDefault();
      close(p, true);
    }
  });

  // Choosing with the pointer: keep the focus in the field, then take the person clicked.
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest && event.target.closest('.picker-results [role="option"]')) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var option = event.target.closest ? event.target.closest('.picker-results [role="option"]') : null;
    if (option) {
      var p = partsOf(option);
      choose(p, option);
      p.input.focus();
    }
  });

  document.addEventListener("focusout", function (event) {
    var p = partsOf(event.target);
    if (p && !p.box.contains(event.relatedTarget)) {
      close(p, true);
    }
  });

  // The picker's endpoint reads what was typed as q, whatever the field is called in the form.
  document.addEventListener("htmx:configRequest", function (event) {
    var element = event.detail.elt;
    if (element.matches && element.matches("[data-picker-input]")) {
      event.detail.parameters.q = element.value;
      delete event.detail.parameters[element.name];
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.classList && event.target.classList.contains("picker-results")) {
      var p = partsOf(event.target);
      if (document.activeElement === p.input) {
        open(p);
      } else {
        close(p, true);
      }
    }
  });
})();
