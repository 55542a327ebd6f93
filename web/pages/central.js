/* The centre's table of communes: sort by any column in the page (ES5, no library).
   Each cell carries its sort key in data-v; a second tap on a column reverses the order. */
(function () {
  "use strict";
  var table = document.getElementById("province");
  if (!table) { return; }
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  var column = -1, ascending = true;

  function key(row, col) {
    var text = row.cells[col].getAttribute("data-v");
    return heads[col].getAttribute("data-type") === "text" ? { n: false, v: text } : { n: true, v: parseFloat(text) };
  }

  function compare(a, b) {
    if (a.n && b.n) { return a.v - b.v; }
    return String(a.v).localeCompare(String(b.v), "vi");
  }

  function sortBy(col) {
    ascending = col === column ? !ascending : true;
    column = col;
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, i) { return { row: row, k: key(row, col), i: i }; });
    keyed.sort(function (a, b) {
      var c = compare(a.k, b.k);
      if (!ascending) { c = -c; }
      return c !== 0 ? c : a.i - b.i;
    });
    for (var i = 0; i < keyed.length; i++) { body.appendChild(keyed[i].row); }
    for (var j = 0; j < heads.length; j++) {
      heads[j].setAttribute("aria-sort", j === col ? (ascending ? "ascending" : "descending") : "none");
    }
  }

  for (var i = 0; i < heads.length; i++) {
    (function (col) {
      heads[col].getElementsByTagName("button")[0].addEventListener("click", function () { sortBy(col); });
    })(i);
  }
}());
