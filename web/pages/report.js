/* The report page: a "PNG" button under each chart turns the drawn SVG into a picture file
   (drawn by the browser on a canvas, twice the size, white background). Plain ES5. */
(function () {
  var STYLE = "text{font-size:12px;fill:#111111;font-family:sans-serif}" +
              "text.title{font-size:15px;font-weight:bold}line.grid{stroke:#d0d7e2;stroke-width:1}";
  var SCALE = 2;
  function period() {
    var from = document.querySelector("#range input[name=from]"), to = document.querySelector("#range input[name=to]");
    return (from ? from.value : "") + "-" + (to ? to.value : "");
  }
  function toPng(svg, name) {
    var box = svg.viewBox.baseVal, copy = svg.cloneNode(true);
    copy.setAttribute("width", String(box.width));
    copy.setAttribute("height", String(box.height));
    var style = document.createElementNS(svg.namespaceURI, "style");
    style.textContent = STYLE;            /* the page's CSS does not travel with the picture */
    copy.insertBefore(style, copy.firstChild);
    var image = new Image();
    image.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = box.width * SCALE; canvas.height = box.height * SCALE;
      var context = canvas.getContext("2d");
      context.fillStyle = "#ffffff"; context.fillRect(0, 0, canvas.width, canvas.height);
      context.scale(SCALE, SCALE);
      context.drawImage(image, 0, 0, box.width, box.height);
      var link = document.createElement("a");
      link.download = name;
      link.href = canvas.toDataURL("image/png");
      document.body.appendChild(link); link.click(); document.body.removeChild(link);
    };
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(copy));
  }
  var charts = document.querySelectorAll("svg.chart");
  for (var i = 0; i < charts.length; i++) {
    (function (svg) {
      if (!svg.viewBox || !svg.viewBox.baseVal) { return; }
      var button = document.createElement("button");
      button.type = "button"; button.className = "no-print png";
      button.id = svg.id + "-png";
      button.textContent = "Tải ảnh PNG: " + (svg.getAttribute("aria-label") || "biểu đồ");
      button.onclick = function () { toPng(svg, "bieu-do-" + svg.id.replace("chart-", "") + "-" + period() + ".png"); };
      svg.parentNode.insertBefore(button, svg.nextSibling);
    })(charts[i]);
  }
})();
