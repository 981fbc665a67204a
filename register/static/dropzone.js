/* Evidence drop zone: files dropped on the zone become the file input's files, so the plain
   form sends them; without this script the input works as it is. */
(function () {
  "use strict";
  function setUp(zone) {
    var input = zone.querySelector("[data-dropzone-input]");
    var status = zone.querySelector("[data-dropzone-status]");
    if (!input) return;
    function said() {
      if (!status) return;
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      status.textContent = names.join(", ");
    }
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dropzone-over");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dropzone-over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dropzone-over");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        said();
      }
    });
    input.addEventListener("change", said);
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-dropzone]"), setUp);
  });
})();
