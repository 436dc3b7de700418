// Buttons marked data-print print the page (the printable county report); a static file instead of
// an inline onclick, which the Content-Security-Policy refuses.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
