// The menu button (the "primary sidebar" toggle) works on a phone and collapses the sidebar on
// a desktop again. Both sphinx-book-theme and pydata-sphinx-theme attach their handlers to the
// first element with class "primary-toggle". Since pydata-sphinx-theme 0.17 that is a hidden
// button in the top bar, so the visible one in the article header does nothing
// (pydata/pydata-sphinx-theme#2451). Forward its clicks to the first one, which both themes
// handle: at 992 px and wider the sidebar collapses, below that it opens as a drawer.
document.addEventListener("DOMContentLoaded", () => {
  const [first, ...others] = document.querySelectorAll(".primary-toggle");
  for (const button of others) {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      event.stopPropagation();
      first.click();
    });
  }
});
