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
(function () {
  /* Unit fields ("format": "lianxin-unit"): typed by name, the list offers the units of the field's scope found
     by GET /api/units (the task's office decides the scope); the server stores the unit's code. */
  var form = document.querySelector("[data-unit-picker]") && document.querySelector("[data-unit-picker]").closest("form");
  if (!form) { return; }
  var timer = null;
  function fill(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var params = new URLSearchParams({ q: input.value.trim(), scope: input.dataset.unitPicker || "all" });
    if (form.dataset.task) { params.set("task", form.dataset.task); }
    fetch("/api/units?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { units: [] }; })
      .then(function (body) {
        list.textContent = "";
        (body.units || []).forEach(function (u) {
          var o = document.createElement("option");
          o.value = u.name;
          o.label = u.level ? u.level + " · " + u.name : u.name;
          o.dataset.code = u.code;
          list.appendChild(o);
        });
      })
      .catch(function () { /* the list stays as it was; the server still checks what is sent */ });
  }
  function watch(input) {
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(function () { fill(input); }, 200); });
    input.addEventListener("focus", function () { fill(input); });
  }
  form.querySelectorAll("[data-unit-picker]").forEach(watch);
  form.querySelectorAll(".add-unit").forEach(function (button) {
    button.addEventListener("click", function () {
      var box = document.getElementById(button.dataset.for);
      var inputs = box.querySelectorAll("input");
      var max = parseInt(box.dataset.max || "0", 10);
      if (max && inputs.length >= max) { return; }
      var copy = inputs[inputs.length - 1].cloneNode(false);
      copy.value = "";
      box.appendChild(copy);
      watch(copy);
      copy.focus();
    });
  });
})();
