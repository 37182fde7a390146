// eslint for the app's own scripts (web/static/js): plain browser scripts, no modules, no build.
// Run by scripts/eslint.sh and tests/test_lint.py.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: {
        ...globals.browser,
        L: "readonly",            // Leaflet (web/static/vendor/leaflet)
        protomapsL: "readonly",   // protomaps-leaflet (the PMTiles base map)
        basemaps: "readonly",     // @protomaps/basemaps flavours
      },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      eqeqeq: ["error", "smart"],
    },
  },
];
