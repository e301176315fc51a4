// Chorus web app: what only a browser can do. Every page works without this file.
(function () {
  "use strict";

  function toast(message) {
    var el = document.getElementById("toast");
    if (!el || !message) return;
    el.textContent = message;
    el.classList.add("show");
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.classList.remove("show"); }, 4000);
  }

  function copy(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return false; });
    }
    return Promise.resolve(false);
  }

  // The length a network counts: X weighs links as 23 and wide characters as 2
  // (the same rule as contracts.texts, which the server applies).
  var URL_RE = /(?:https?:\/\/|www\.)\S+/gi;
  function light(code) {
    return (code <= 4351) || (code >= 8192 && code <= 8205) || (code >= 8208 && code <= 8223) || (code >= 8242 && code <= 8247);
  }
  function weigh(text) {
    var total = 0;
    for (var ch of text.normalize("NFC")) total += light(ch.codePointAt(0)) ? 1 : 2;
    return total;
  }
  function counted(network, text) {
    if (network !== "x") return Array.from(text).length;
    var total = 0, last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      total += weigh(text.slice(last, m.index)) + 23;
      last = m.index + m[0].length;
    }
    return total + weigh(text.slice(last));
  }
  window.chorusCounted = counted;

  function formatNumber(n) {
    return new Intl.NumberFormat(document.documentElement.lang || undefined).format(n);
  }

  function setupShareForm(form) {
    var area = form.querySelector("textarea[name=text]");
    var counter = document.getElementById(area.dataset.counter);
    var button = form.querySelector("[data-share-button]");
    var hint = document.getElementById("link-only-hint");
    var phone = !!navigator.share && window.matchMedia("(pointer: coarse)").matches;
    var lastSuggested = area.value;

    function chosen() { return form.querySelector("input[name=network]:checked"); }

    function refresh() {
      var radio = chosen();
      if (!radio) return;
      var limit = parseInt(radio.dataset.limit, 10);
      var used = counted(radio.value, area.value);
      counter.textContent = counter.dataset.template.replace("{used}", formatNumber(used)).replace("{limit}", formatNumber(limit));
      counter.classList.toggle("near", used > limit * 0.9 && used <= limit);
      counter.classList.toggle("over", used > limit);
      area.setAttribute("aria-invalid", used > limit ? "true" : "false");
      button.disabled = used > limit;
      if (hint) {
        hint.hidden = !radio.hasAttribute("data-link-only");
        hint.textContent = hint.dataset.template.replace("{network}", radio.dataset.label);
      }
      button.textContent = phone ? form.dataset.msgPhone : form.dataset.msgDesktop.replace("{network}", radio.dataset.label);
    }

    form.querySelectorAll("input[name=network]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        // An untouched suggestion follows the network; an edited text stays.
        if (area.value === lastSuggested) {
          area.value = radio.dataset.text;
          lastSuggested = area.value;
        }
        refresh();
      });
    });
    area.addEventListener("input", refresh);
    refresh();

    form.addEventListener("submit", function (event) {
      var radio = chosen();
      if (!radio || form.dataset.fallback === "1") return;
      var scheduled = form.querySelector("input[name=scheduled_at]");
      if (scheduled && scheduled.value) return; // a scheduled post: the server's own flow
      event.preventDefault();
      button.disabled = true;
      button.textContent = form.dataset.msgWorking;
      // Opened now, while the tap still counts as the person's: a window opened after
      // the network round trip would be blocked as a pop-up.
      var popup = phone ? null : window.open("", "_blank");
      if (popup) popup.opener = null;
      var body = new FormData(form);
      fetch(form.action, { method: "POST", body: body, headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("refused");
          return response.json();
        })
        .then(function (share) {
          return copy(share.copy_text || share.text || "").then(function (copied) {
            if (copied) toast(form.dataset.msgCopied);
            if (phone) {
              return navigator.share({ title: form.dataset.title, text: share.text || "", url: share.tracked_url })
                .catch(function () { /* dismissed: the share is recorded all the same */ })
                .then(function () { return share; });
            }
            if (popup && share.intent_url) popup.location.href = share.intent_url;
            else if (popup) popup.close();
            return share;
          });
        })
        .then(function (share) { window.location.assign(share.done_url); })
        .catch(function () {
          if (popup) popup.close();
          // Let the server render the form with its errors next to the fields.
          form.dataset.fallback = "1";
          form.submit();
        });
    });
  }

  function setup(root) {
    root.querySelectorAll("[data-share-form]").forEach(setupShareForm);
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    root.querySelectorAll("[data-timezone]").forEach(function (input) {
      try { input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* UTC */ }
    });
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.dataset.copy);
        copy(source.value || source.textContent).then(function (ok) { if (ok) toast(button.dataset.msgCopied); });
      });
    });
    root.querySelectorAll("[data-copy-before]").forEach(function (link) {
      link.addEventListener("click", function () {
        var source = document.querySelector(link.dataset.copyBefore);
        copy(source.value || source.textContent).then(function (ok) { if (ok) toast(link.dataset.msgCopied); });
      });
    });
    root.querySelectorAll("[data-confirm-toggle]").forEach(function (box) {
      var target = document.getElementById(box.dataset.confirmToggle);
      function sync() { target.disabled = !box.checked; }
      box.addEventListener("change", sync);
      sync();
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setup(document); });
  document.addEventListener("htmx:load", function (event) { if (event.target !== document.body) setup(event.target); });
})();

// Program: content. The composer's counters, one per network's suggested text (the same
// count and limits as the share panel and the server).
(function () {
  "use strict";
  // The share panel's count, defined above: one rule for both.
  var counted = window.chorusCounted;
  function setupCounters(root) {
    root.querySelectorAll("textarea[data-limit][data-network]").forEach(function (area) {
      var counter = document.getElementById(area.dataset.counter);
      if (!counter || area._counted) return;
      area._counted = true;
      var format = new Intl.NumberFormat(document.documentElement.lang || undefined);
      function refresh() {
        var limit = parseInt(area.dataset.limit, 10);
        var used = counted(area.dataset.network, area.value);
        counter.textContent = counter.dataset.template.replace("{used}", format.format(used)).replace("{limit}", format.format(limit));
        counter.classList.toggle("near", used > limit * 0.9 && used <= limit);
        counter.classList.toggle("over", used > limit);
        area.setAttribute("aria-invalid", used > limit ? "true" : "false");
      }
      area.addEventListener("input", refresh);
      refresh();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setupCounters(document); });
  document.addEventListener("htmx:load", function (event) { if (event.target !== document.body) setupCounters(event.target); });
})();
