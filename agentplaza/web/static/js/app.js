// On every page: the dark/light switch (remembered in a cookie the server renders from,
// so the page never flashes the other theme).
const root = document.documentElement;
const button = document.getElementById("theme-switch");

function current() {
  return root.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

if (button) {
  button.setAttribute("aria-pressed", String(current() === "dark"));
  button.addEventListener("click", () => {
    const next = current() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    document.cookie = `theme=${next}; path=/; max-age=31536000; samesite=lax`;
    button.setAttribute("aria-pressed", String(next === "dark"));
  });
}
