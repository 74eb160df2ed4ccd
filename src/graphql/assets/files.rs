//! The files of GraphiQL as built by graphiql/build.sh; do not edit.

/// The page, and every file it loads, by name.
pub const PAGE: &str = include_str!("index.html");

pub const FILES: &[(&str, &str, &[u8])] = &[
    (
        "codicon-37A3DWZT.ttf",
        "font/ttf",
        include_bytes!("codicon-37A3DWZT.ttf"),
    ),
    (
        "editor.worker-GXVAVCAF.js",
        "text/javascript; charset=utf-8",
        include_bytes!("editor.worker-GXVAVCAF.js"),
    ),
    (
        "graphiql-6QOTHLM6.css",
        "text/css; charset=utf-8",
        include_bytes!("graphiql-6QOTHLM6.css"),
    ),
    (
        "graphiql-LU635GYP.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql-LU635GYP.js"),
    ),
    (
        "graphql.worker-REGDS4DG.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphql.worker-REGDS4DG.js"),
    ),
    (
        "json.worker-66KCXD3P.js",
        "text/javascript; charset=utf-8",
        include_bytes!("json.worker-66KCXD3P.js"),
    ),
];
