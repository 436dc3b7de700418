/* Strata respondent forms: mirrors the server's rules for a responsive page (no eval).
 * The server ships each page's compiled expressions as JSON (#form-logic); this file walks the
 * same AST with the same value rules as survey_app/questionnaire/expressions.py. The server
 * re-checks everything on submission; without JavaScript the form works by page round trips. */
(function () {
  "use strict";
  var dataNode = document.getElementById("form-logic");
  var form = document.getElementById("respond-form");

  function isNum(v) { return typeof v === "number"; }
  function toNumber(v) {
    if (v === null || v === undefined || Array.isArray(v)) return null;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (isNum(v)) return isNaN(v) ? null : v;
    var t = String(v).trim();
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(t)) return null;
    return parseFloat(t);
  }
  function toStr(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (isNum(v)) return isNaN(v) ? "" : String(v);
    if (Array.isArray(v)) return v.map(toStr).join(" ");
    return String(v);
  }
  function asList(v) {
    if (Array.isArray(v)) return v.map(toStr);
    return toStr(v).split(" ").filter(function (p) { return p !== ""; });
  }
  function truthy(v) {
    if (v === null || v === undefined) return false;
    if (typeof v === "boolean") return v;
    if (isNum(v)) return v !== 0 && !isNaN(v);
    if (Array.isArray(v)) return v.length > 0;
    return String(v) !== "";
  }
  function equal(a, b) {
    if (typeof a === "boolean" || typeof b === "boolean") return truthy(a) === truthy(b);
    if (isNum(a) || isNum(b)) {
      var na = toNumber(a), nb = toNumber(b);
      if (na !== null && nb !== null) return na === nb;
    }
    return toStr(a) === toStr(b);
  }
  function order(op, a, b) {
    var na = toNumber(a), nb = toNumber(b), l, r;
    if (na !== null && nb !== null) { l = na; r = nb; }
    else if (a === null || a === undefined || b === null || b === undefined || toStr(a) === "" || toStr(b) === "") return false;
    else { l = toStr(a); r = toStr(b); }
    if (op === "<") return l < r;
    if (op === "<=") return l <= r;
    if (op === ">") return l > r;
    return l >= r;
  }
  function arith(op, a, b) {
    var na = toNumber(a), nb = toNumber(b);
    if (na === null || nb === null) return null;
    if (op === "+") return na + nb;
    if (op === "-") return na - nb;
    if (op === "*") return na * nb;
    if (nb === 0) return null;
    if (op === "mod") return na % nb;
    return na / nb;
  }
  function roundHalfAway(v, d) {
    var n = toNumber(v), p = toNumber(d === undefined ? 0 : d);
    if (n === null || p === null) return null;
    var f = Math.pow(10, Math.trunc(p));
    var r = Math.floor(Math.abs(n) * f + 0.5) / f;
    return n < 0 ? -r : r;
  }
  function extreme(pick) {
    return function () {
      var nums = Array.prototype.map.call(arguments, toNumber);
      if (nums.some(function (n) { return n === null; })) return null;
      return pick.apply(Math, nums);
    };
  }
  function today() {
    var d = new Date();
    var m = String(d.getMonth() + 1), day = String(d.getDate());
    return d.getFullYear() + "-" + (m.length < 2 ? "0" + m : m) + "-" + (day.length < 2 ? "0" + day : day);
  }
  /* Designers' regex() patterns, matched in time linear in the answer's length, as RE2 does on the
   * server (a backtracking RegExp can take minutes on 31 characters). The server accepts only the
   * syntax described in questionnaires/engine/patterns.py; it is compiled here to an automaton that
   * reads the answer one character (code point) at a time. \d \w \s are ASCII, . is any character
   * but a line break, ^ and $ are the start and end of the answer: RE2's meanings. */
  var DIGIT = [[48, 57]], WORD = [[48, 57], [65, 90], [95, 95], [97, 122]], SPACE = [[9, 10], [12, 13], [32, 32]];
  var ESCAPED = { d: [DIGIT, false], D: [DIGIT, true], w: [WORD, false], W: [WORD, true], s: [SPACE, false], S: [SPACE, true] };
  var CONTROL = { t: 9, n: 10, r: 13 };
  function parsePattern(p) {  // p: array of characters; returns an AST or throws
    var i = 0;
    function peek(s) { return p[i] === s; }
    function literal(cp) { return { t: "set", items: [[[[cp, cp]], false]], neg: false }; }
    function single() {  // one character, escaped or not, as a code point
      var c = p[i++];
      if (c === undefined) throw new Error("pattern");
      if (c !== "\\") return c.codePointAt(0);
      var e = p[i++];
      if (e === undefined) throw new Error("pattern");
      return CONTROL.hasOwnProperty(e) ? CONTROL[e] : e.codePointAt(0);
    }
    function klass() {
      var items = [], neg = false;
      i++;
      if (peek("^")) { neg = true; i++; }
      do {
        if (i >= p.length) throw new Error("pattern");
        if (p[i] === "\\" && ESCAPED.hasOwnProperty(p[i + 1])) { items.push(ESCAPED[p[i + 1]]); i += 2; continue; }
        var lo = single(), hi = lo;
        if (peek("-") && p[i + 1] !== undefined && p[i + 1] !== "]") { i++; hi = single(); }
        items.push([[[lo, hi]], false]);
      } while (!peek("]"));
      i++;
      return { t: "set", items: items, neg: neg };
    }
    function atom() {
      var c = p[i];
      if (c === "(") {
        i += p[i + 1] === "?" ? 3 : 1;
        var inner = alternation();
        if (!peek(")")) throw new Error("pattern");
        i++;
        return inner;
      }
      if (c === "[") return klass();
      if (c === ".") { i++; return { t: "set", items: [[[[10, 10]], false]], neg: true }; }
      if (c === "^") { i++; return { t: "bol" }; }
      if (c === "$") { i++; return { t: "eol" }; }
      if (c === "\\" && ESCAPED.hasOwnProperty(p[i + 1])) { i += 2; return { t: "set", items: [ESCAPED[p[i - 1]]], neg: false }; }
      return literal(single());
    }
    function number() {
      var start = i;
      while (/[0-9]/.test(p[i] || "")) i++;
      return start === i ? -1 : parseInt(p.slice(start, i).join(""), 10);
    }
    function sequence() {
      var items = [];
      while (i < p.length && !peek("|") && !peek(")")) {
        var node = atom(), min = -1, max = -1;
        if (peek("*")) { min = 0; max = Infinity; i++; }
        else if (peek("+")) { min = 1; max = Infinity; i++; }
        else if (peek("?")) { min = 0; max = 1; i++; }
        else if (peek("{")) {
          i++; min = number(); max = min;
          if (peek(",")) { i++; max = number(); if (max < 0) max = Infinity; }
          if (!peek("}") || min < 0) throw new Error("pattern");
          i++;
        }
        if (min >= 0) { if (peek("?")) i++; node = { t: "rep", node: node, min: min, max: max }; }
        items.push(node);
      }
      return { t: "cat", items: items };
    }
    function alternation() {
      var items = [sequence()];
      while (peek("|")) { i++; items.push(sequence()); }
      return items.length === 1 ? items[0] : { t: "alt", items: items };
    }
    var tree = alternation();
    if (i !== p.length) throw new Error("pattern");
    return tree;
  }
  function emit(node, prog) {  // instructions run on to the next one unless they jump
    var k, split;
    if (node.t === "set" || node.t === "bol" || node.t === "eol") { prog.push({ op: node.t, set: node }); return; }
    if (node.t === "cat") { node.items.forEach(function (item) { emit(item, prog); }); return; }
    if (node.t === "alt") {
      var jumps = [];
      node.items.forEach(function (item, n) {
        if (n < node.items.length - 1) { split = { op: "split", x: prog.length + 1, y: 0 }; prog.push(split); }
        emit(item, prog);
        if (n < node.items.length - 1) { var jump = { op: "jmp", x: 0 }; prog.push(jump); jumps.push(jump); split.y = prog.length; }
      });
      jumps.forEach(function (jump) { jump.x = prog.length; });
      return;
    }
    for (k = 0; k < node.min; k++) emit(node.node, prog);  // node.t === "rep"
    if (node.max === Infinity) {
      var loop = prog.length;
      split = { op: "split", x: loop + 1, y: 0 }; prog.push(split);
      emit(node.node, prog);
      prog.push({ op: "jmp", x: loop });
      split.y = prog.length;
    } else {
      for (k = node.min; k < node.max; k++) { split = { op: "split", x: prog.length + 1, y: 0 }; prog.push(split); emit(node.node, prog); split.y = prog.length; }
    }
  }
  function inSet(set, cp) {
    var hit = set.items.some(function (item) {
      var inside = item[0].some(function (range) { return cp >= range[0] && cp <= range[1]; });
      return inside !== item[1];
    });
    return hit !== set.neg;
  }
  var PATTERNS = {};
  function compilePattern(source) {
    if (!Object.prototype.hasOwnProperty.call(PATTERNS, source)) {
      var prog = null;
      try { prog = []; emit(parsePattern(Array.from(source)), prog); prog.push({ op: "match" }); }
      catch (e) { prog = null; }  // a pattern the server does not run either: nothing matches it
      PATTERNS[source] = prog;
    }
    return PATTERNS[source];
  }
  function matchPattern(source, text) {
    var prog = compilePattern(source);
    if (prog === null) return false;
    var chars = Array.from(text), n = chars.length, seen = new Array(prog.length), step = 0;
    function add(list, start, pos) {  // the instructions reachable without reading a character
      var stack = [start];
      while (stack.length) {
        var pc = stack.pop();
        if (seen[pc] === step) continue;
        seen[pc] = step;
        var ins = prog[pc];
        if (ins.op === "jmp") stack.push(ins.x);
        else if (ins.op === "split") { stack.push(ins.y); stack.push(ins.x); }
        else if (ins.op === "bol") { if (pos === 0) stack.push(pc + 1); }
        else if (ins.op === "eol") { if (pos === n) stack.push(pc + 1); }
        else list.push(pc);
      }
    }
    var current = [];
    add(current, 0, 0);
    for (var pos = 0; pos < n && current.length; pos++) {
      var cp = chars[pos].codePointAt(0), next = [];
      step++;
      for (var k = 0; k < current.length; k++) {
        var ins = prog[current[k]];
        if (ins.op === "set" && inSet(ins.set, cp)) add(next, current[k] + 1, pos + 1);
      }
      current = next;
    }
    return current.some(function (pc) { return prog[pc].op === "match"; });
  }
  var FUNCTIONS = {
    "selected": function (v, c) { return asList(v).indexOf(toStr(c)) >= 0; },
    "count-selected": function (v) { return asList(v).length; },
    "if": function (c, a, b) { return truthy(c) ? a : b; },
    "string-length": function (v) { return Array.from(toStr(v)).length; },
    "regex": function (v, p) { var t = toStr(v); return t !== "" && matchPattern(toStr(p), t); },
    "today": today,
    "not": function (v) { return !truthy(v); },
    "true": function () { return true; },
    "false": function () { return false; },
    "concat": function () { return Array.prototype.map.call(arguments, toStr).join(""); },
    "int": function (v) { var n = toNumber(v); return n === null ? null : Math.trunc(n); },
    "number": function (v) { return toNumber(v); },
    "round": roundHalfAway,
    "string": function (v) { return toStr(v); },
    "coalesce": function (a, b) { return toStr(a) !== "" ? a : b; },
    "contains": function (a, b) { return toStr(a).indexOf(toStr(b)) >= 0; },
    "starts-with": function (a, b) { return toStr(a).indexOf(toStr(b)) === 0; },
    "min": extreme(Math.min),
    "max": extreme(Math.max)
  };
  function evaluate(ast, values, current, columns) {
    var kind = ast[0];
    if (kind === "num" || kind === "str") return ast[1];
    if (kind === "ref") return Object.prototype.hasOwnProperty.call(values, ast[1]) ? values[ast[1]] : null;
    if (kind === "cur") return current === undefined ? null : current;
    if (kind === "col") return columns && Object.prototype.hasOwnProperty.call(columns, ast[1]) ? columns[ast[1]] : null;
    if (kind === "neg") { var n = toNumber(evaluate(ast[1], values, current, columns)); return n === null ? null : -n; }
    if (kind === "bin") {
      var op = ast[1], left = evaluate(ast[2], values, current, columns);
      if (op === "and") return truthy(left) && truthy(evaluate(ast[3], values, current, columns));
      if (op === "or") return truthy(left) || truthy(evaluate(ast[3], values, current, columns));
      var right = evaluate(ast[3], values, current, columns);
      if (op === "=") return equal(left, right);
      if (op === "!=") return !equal(left, right);
      if (op === "<" || op === "<=" || op === ">" || op === ">=") return order(op, left, right);
      return arith(op, left, right);
    }
    if (kind === "call" && Object.prototype.hasOwnProperty.call(FUNCTIONS, ast[1])) {
      var args = ast[2].map(function (a) { return evaluate(a, values, current, columns); });
      return FUNCTIONS[ast[1]].apply(null, args);
    }
    throw new Error("unknown expression node");
  }
  window.StrataExpressions = { evaluate: evaluate, toStr: toStr, truthy: truthy };
  if (!dataNode || !form) return;

  var logic = JSON.parse(dataNode.textContent);
  var touched = {};

  function inputs(name) { return form.querySelectorAll('[name="q-' + name + '"]'); }
  function readValue(q) {
    var els = inputs(q.name);
    if (!els.length) return { value: null, missing: false, raw: "" };
    if (q.type === "select_multiple") {
      var picked = [];
      els.forEach(function (el) { if (el.checked) picked.push(el.value); });
      return { value: picked.length ? picked : null, missing: false, raw: picked.join(" ") };
    }
    var raw = "";
    if (els[0].type === "radio") els.forEach(function (el) { if (el.checked) raw = el.value; });
    else raw = els[0].value.trim();
    if (raw === "") return { value: null, missing: false, raw: "" };
    if (q.type === "select_one" && q.choices[raw] && q.choices[raw].missing) return { value: null, missing: true, raw: raw };
    if (q.type === "integer") return /^[+-]?\d{1,15}$/.test(raw) ? { value: parseInt(raw, 10), missing: false, raw: raw } : { value: null, bad: "integer", raw: raw };
    if (q.type === "decimal") return /^[+-]?(\d{1,15}(\.\d{0,10})?|\.\d{1,10})$/.test(raw) ? { value: parseFloat(raw), missing: false, raw: raw } : { value: null, bad: "decimal", raw: raw };
    if (q.type === "date") return /^\d{4}-\d{2}-\d{2}$/.test(raw) ? { value: raw, missing: false, raw: raw } : { value: null, bad: "date", raw: raw };
    return { value: raw, missing: false, raw: raw };
  }
  function fill(message, limit) { return message.replace(/%\(limit\)s|%\(limit\)d/g, String(limit)); }

  function problemFor(q, state, values) {
    if (state.bad) return logic.messages[state.bad];
    if (state.value === null) {
      return q.required && !state.missing ? (q.required_message || logic.messages.required) : "";
    }
    if (q.min !== null && state.value < q.min) return fill(logic.messages.min, q.min);
    if (q.max !== null && state.value > q.max) return fill(logic.messages.max, q.max);
    if (q.constraint && !truthy(evaluate(q.constraint, values, state.value))) return q.constraint_message || logic.messages.constraint;
    return "";
  }

  function update(showAll) {
    var values = Object.assign({}, logic.values);
    var problems = [];
    logic.questions.forEach(function (q) {
      var box = form.querySelector('[data-question="' + q.name + '"]');
      var on = !q.relevant || truthy(evaluate(q.relevant, values));
      if (q.type === "calculate") { values[q.name] = on ? evaluate(q.calculation, values) : null; return; }
      if (!box) { values[q.name] = null; return; }
      box.hidden = !on;
      box.querySelectorAll("input, textarea, select").forEach(function (el) { el.disabled = !on; });
      if (q.choice_filter) {
        box.querySelectorAll("[data-choice]").forEach(function (label) {
          var name = label.getAttribute("data-choice");
          var cols = Object.assign({ name: name }, q.choices[name].columns);
          var keep = truthy(evaluate(q.choice_filter, values, null, cols));
          label.hidden = !keep;
          var input = label.querySelector("input");
          if (!keep && input.checked) input.checked = false;
        });
      }
      var state = on ? readValue(q) : { value: null };
      values[q.name] = on ? state.value : null;
      var message = on && q.type !== "note" ? problemFor(q, state, values) : "";
      var errorNode = box.querySelector('[data-error-for="' + q.name + '"]');
      if (errorNode && (showAll || touched[q.name] || !message)) {
        errorNode.textContent = message;
        errorNode.hidden = !message;
        box.classList.toggle("has-error", !!message);
      }
      if (message) problems.push(box);
    });
    return problems;
  }

  form.addEventListener("change", function (event) {
    var name = (event.target.name || "").replace(/^q-/, "");
    touched[name] = true;
    update(false);
  });
  form.addEventListener("input", function (event) {
    if (event.target.type === "text" || event.target.tagName === "TEXTAREA") update(false);
  });
  form.addEventListener("submit", function (event) {
    var problems = update(true);
    if (problems.length) {
      event.preventDefault();
      var first = problems[0].querySelector("input, textarea");
      if (first) first.focus();
      return;
    }
    var button = form.querySelector('button[type="submit"]');
    if (button) {
      if (button.dataset.sent) { event.preventDefault(); return; }
      button.dataset.sent = "1";
    }
  });
  update(false);
})();
