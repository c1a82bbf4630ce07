/**
 * The page skeleton. `{{STYLE}}` is replaced by the inline style, `{{SCRIPT_SRC}}` and
 * `{{SCRIPT_INTEGRITY}}` by the bundled script's hashed path and its integrity; nothing here
 * carries data, which only ever arrives through the authenticated API.
 * The token input has no `name` and the form no action, so even with scripts off it cannot put
 * the token into a URL (and the CSP's form-action 'none' blocks the submission anyway).
 */
export const PAGE_MARKUP = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shiftproxy</title>
<link rel="icon" href="data:,">
<style>{{STYLE}}</style>
</head>
<body>
<header class="top">
  <h1>shiftproxy</h1>
  <span id="conn" class="conn conn-connecting" role="status">connecting…</span>
  <span id="updated" class="muted num"></span>
  <span id="who" class="who" data-field="who" hidden></span>
  <form id="token-form" class="token" autocomplete="off">
    <label for="token">Admin token</label>
    <input id="token" type="password" placeholder="not set" autocomplete="off" spellcheck="false">
    <button type="submit">Use</button>
    <button type="button" id="token-forget">Forget</button>
  </form>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<section id="fleet" class="fleet" aria-label="Fleet" hidden>
  <h2>Fleet <span id="fleet-status" class="muted"></span></h2>
  <table>
    <thead><tr><th>instance</th><th>role</th><th>admin</th><th>config</th><th>applied revision</th><th>last seen</th></tr></thead>
    <tbody id="fleet-rows"></tbody>
  </table>
</section>
<main id="services"><p class="empty" id="empty">Waiting for the first snapshot…</p></main>
<script src="{{SCRIPT_SRC}}" integrity="{{SCRIPT_INTEGRITY}}" crossorigin="anonymous"></script>
</body>
</html>
`;
