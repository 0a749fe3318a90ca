package io.kvtier.replay;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * What every replay chart shares: a white 960 × 600 canvas, a title, a plot area with a y axis from
 * 0 to {@code yMax} (grid lines every tenth, labels every fifth), the axis labels, and writing the
 * PNG. The caller draws its series inside {@link #graphics()} with {@link #y(double)}.
 *
 * <p>Not thread-safe; one chart at a time, then {@link #save(Path)}.
 */
final class ChartFrame {

  static final int WIDTH = 960;
  static final int HEIGHT = 600;

  final int left;
  final int top;
  final int plotWidth;
  final int plotHeight;
  private final double yMax;
  private final BufferedImage img;
  private final Graphics2D g;
  private final FontMetrics fm;

  /**
   * A canvas with its title drawn and the font set for labels.
   *
   * @param right the margin for the legend
   * @param bottom the margin for the x labels
   */
  ChartFrame(String title, int right, int bottom, double yMax) {
    System.setProperty("java.awt.headless", "true");
    this.left = 80;
    this.top = 50;
    this.plotWidth = WIDTH - left - right;
    this.plotHeight = HEIGHT - top - bottom;
    this.yMax = yMax;
    img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(
        RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    g.setColor(Color.BLACK);
    g.drawString(title, left, 30);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    fm = g.getFontMetrics();
  }

  Graphics2D graphics() {
    return g;
  }

  FontMetrics metrics() {
    return fm;
  }

  /** The pixel row of value {@code v}. */
  double y(double v) {
    return top + plotHeight - v / yMax * plotHeight;
  }

  /** Grid, frame, y tick labels (two decimals below 10, none above), and both axis labels. */
  void axes(String xLabel, String yLabel) {
    g.setColor(new Color(0xdddddd));
    for (int i = 0; i <= 10; i++) {
      int yy = (int) y(yMax * i / 10);
      g.drawLine(left, yy, left + plotWidth, yy);
    }
    g.setColor(Color.BLACK);
    g.drawRect(left, top, plotWidth, plotHeight);
    for (int i = 0; i <= 10; i += 2) {
      double v = yMax * i / 10;
      int yy = (int) y(v);
      String s = String.format(Locale.ROOT, yMax < 10 ? "%.2f" : "%.0f", v);
      g.drawString(s, left - 8 - fm.stringWidth(s), yy + 4);
    }
    g.drawString(xLabel, left + plotWidth / 2 - fm.stringWidth(xLabel) / 2, HEIGHT - 25);
    Graphics2D gr = (Graphics2D) g.create();
    gr.rotate(-Math.PI / 2);
    gr.drawString(yLabel, -(top + plotHeight / 2 + fm.stringWidth(yLabel) / 2), 22);
    gr.dispose();
  }

  /** Writes the PNG (creating its folder) and releases the canvas. */
  void save(Path file) {
    g.dispose();
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      if (!ImageIO.write(img, "png", file.toFile())) {
        throw new IllegalStateException("no PNG writer in this JDK");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }
}
