// The print buttons of printable pages (notices, the registration receipt): <button data-print>.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
