package io.kvtier.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Compiles and runs every {@code ```java} block of the repository's README.md, so the example there
 * cannot rot. A block that declares a class with a {@code main} method is compiled as it is; any
 * other block is wrapped in one, with the API packages imported.
 */
class ReadmeExampleTest {

  private static final Pattern JAVA_BLOCK =
      Pattern.compile("^```java\\s*\\n(.*?)^```", Pattern.DOTALL | Pattern.MULTILINE);
  private static final Pattern CLASS_NAME =
      Pattern.compile("^(?:public\\s+|final\\s+)*class\\s+(\\w+)", Pattern.MULTILINE);

  private record Block(int number, String className, String source) {}

  @TestFactory
  Stream<DynamicTest> readmeJavaBlocks_compileAndRun() throws IOException {
    List<Block> blocks = blocks(Files.readString(readme(), StandardCharsets.UTF_8));
    assertThat(blocks).as("README.md has no ```java block").isNotEmpty();
    return blocks.stream()
        .flatMap(
            b ->
                Stream.of(
                    DynamicTest.dynamicTest(
                        "block " + b.number() + " (" + b.className() + ") compiles",
                        () -> compile(b)),
                    DynamicTest.dynamicTest(
                        "block " + b.number() + " (" + b.className() + ") runs",
                        () -> run(b, compile(b)))));
  }

  static List<Block> blocks(String markdown) {
    List<Block> blocks = new ArrayList<>();
    Matcher m = JAVA_BLOCK.matcher(markdown);
    while (m.find()) {
      int number = blocks.size() + 1;
      String code = m.group(1);
      Matcher name = CLASS_NAME.matcher(code);
      if (name.find() && code.contains("static void main(")) {
        blocks.add(new Block(number, name.group(1), code));
      } else {
        String className = "ReadmeBlock" + number;
        String wrapped =
            """
            import io.kvtier.*;
            import io.kvtier.event.*;
            import io.kvtier.spi.*;
            import java.time.Duration;
            import java.util.*;

            class %s {
              public static void main(String[] args) throws Exception {
            %s
              }
            }
            """
                .formatted(className, code);
        blocks.add(new Block(number, className, wrapped));
      }
    }
    return blocks;
  }

  private static Path readme() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve("README.md");
      if (Files.isRegularFile(candidate) && Files.isRegularFile(dir.resolve("mvnw"))) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "no README.md beside mvnw above " + Path.of("").toAbsolutePath());
  }

  private static Map<String, byte[]> compile(Block block) throws IOException {
    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    assertThat(compiler).as("tests must run on a JDK, not a JRE").isNotNull();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    Map<String, ByteArrayOutputStream> classes = new HashMap<>();
    JavaFileObject source =
        new SimpleJavaFileObject(
            URI.create("string:///" + block.className() + ".java"), JavaFileObject.Kind.SOURCE) {
          @Override
          public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return block.source();
          }
        };
    try (StandardJavaFileManager standard =
            compiler.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8);
        JavaFileManager files =
            new ForwardingJavaFileManager<>(standard) {
              @Override
              public JavaFileObject getJavaFileForOutput(
                  Location location,
                  String className,
                  JavaFileObject.Kind kind,
                  FileObject sibling) {
                return new SimpleJavaFileObject(
                    URI.create("mem:///" + className.replace('.', '/') + kind.extension), kind) {
                  @Override
                  public OutputStream openOutputStream() {
                    return classes.computeIfAbsent(className, k -> new ByteArrayOutputStream());
                  }
                };
              }
            }) {
      List<String> options =
          List.of(
              "-classpath",
              System.getProperty("java.class.path"),
              "-proc:none",
              "-Xlint:all",
              "-Werror");
      boolean ok =
          compiler.getTask(null, files, diagnostics, options, null, List.of(source)).call();
      assertThat(ok)
          .as(
              "README block %d does not compile:%n%s%n--- source ---%n%s",
              block.number(), describe(diagnostics), numbered(block.source()))
          .isTrue();
    }
    return classes.entrySet().stream()
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().toByteArray()));
  }

  private static void run(Block block, Map<String, byte[]> classes) throws Throwable {
    ClassLoader loader =
        new ClassLoader(ReadmeExampleTest.class.getClassLoader()) {
          @Override
          protected Class<?> findClass(String name) throws ClassNotFoundException {
            byte[] bytes = classes.get(name);
            if (bytes == null) {
              throw new ClassNotFoundException(name);
            }
            return defineClass(name, bytes, 0, bytes.length);
          }
        };
    Method main = loader.loadClass(block.className()).getDeclaredMethod("main", String[].class);
    main.setAccessible(true);
    try {
      main.invoke(null, (Object) new String[0]);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  private static String describe(DiagnosticCollector<JavaFileObject> diagnostics) {
    return diagnostics.getDiagnostics().stream()
        .map(
            d ->
                d.getKind()
                    + " line "
                    + d.getLineNumber()
                    + ": "
                    + d.getMessage(Locale.ROOT)
                    + (d.getKind() == Diagnostic.Kind.ERROR ? "" : " (warnings are errors)"))
        .collect(Collectors.joining(System.lineSeparator()));
  }

  private static String numbered(String source) {
    String[] lines = source.split("\n", -1);
    return IntStream.range(0, lines.length)
        .mapToObj(i -> String.format(Locale.ROOT, "%3d  %s", i + 1, lines[i]))
        .collect(Collectors.joining(System.lineSeparator()));
  }
}
