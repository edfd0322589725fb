// MathJax 3 for pymdownx.arithmatex (generic mode): typeset only the spans and blocks arithmatex marks.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex", enableMenu: false },
  startup: { typeset: true },
};
