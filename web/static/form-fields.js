// Task and registration forms (handling/_fields.html): fields shown only for some answer of another field, and
// table fields whose rows are added and removed. Static, not inline: the Content-Security-Policy runs no inline script.
(function () {
  /* A field that applies only for some answer of another field is shown (and sent) only then. */
  var form = document.querySelector("[data-show-when]") && document.querySelector("[data-show-when]").closest("form");
  function answer(name) {
    var els = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.type === "radio") { if (el.checked) { return el.value; } }
      else if (el.type === "checkbox") { return el.checked ? "true" : "false"; }
      else { return el.value; }
    }
    return "";
  }
  function apply() {
    form.querySelectorAll("[data-show-when]").forEach(function (box) {
      var rule = JSON.parse(box.dataset.showWhen), show = true;
      Object.keys(rule).forEach(function (ctrl) {
        var now = answer(ctrl);
        show = show && rule[ctrl].some(function (v) { return String(v) === now; });
      });
      box.hidden = !show;
      box.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !show; });
    });
  }
  if (form) { form.addEventListener("change", apply); apply(); }
})();
(function () {
  function renumber(box) {
    var name = box.dataset.table;
    box.querySelectorAll("tbody tr").forEach(function (tr, i) {
      tr.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(new RegExp("^" + name + "-(\\d+|__i__)-"), name + "-" + i + "-");
        el.id = "f-" + el.name;
      });
    });
  }
  document.querySelectorAll("[data-table]").forEach(function (box) {
    box.querySelector(".add-row").addEventListener("click", function () {
      var max = parseInt(box.dataset.max || "0", 10);
      var body = box.querySelector("tbody");
      if (max && body.children.length >= max) { return; }
      var tr = document.createElement("tr");
      tr.innerHTML = box.querySelector("template").innerHTML;
      body.appendChild(tr);
      renumber(box);
    });
    box.addEventListener("click", function (ev) {
      if (!ev.target.classList.contains("remove-row")) { return; }
      var body = box.querySelector("tbody");
      if (body.children.length > 1) { ev.target.closest("tr").remove(); renumber(box); }
    });
  });
})();
